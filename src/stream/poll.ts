// Long-poll: one request, one batch. Waits for the first event (the backlog counts), takes what
// else is queued at that moment, and answers with the cursor the next poll continues from.

import type { Settings } from "../config/schema";
import { Failure, failure, UNAVAILABLE } from "../protocol/failure";
import type { Batch } from "../transport/transport";
import { finish, openUntilEnd, Stream, StreamRequest } from "./open";
import { gapText } from "./resume";

/**
 * Waits up to `timeoutMs` for a first event, then takes what else is queued at that moment.
 * Returns "lost" when Redis went away before anything came, "ended" when the server API ended it.
 */
function collect(stream: Stream, batch: Batch, timeoutMs: number, maxItems: number): string {
  const deadline = ngx.now() + timeoutMs / 1000;
  const mode = stream.mode;
  const subscription = stream.subscription;
  const tracker = stream.tracker;
  let items = 0;
  const backlog = stream.backlog;
  if (backlog !== undefined) {
    for (const channel of backlog.gaps) {
      batch.notice("gap", gapText(channel));
      items += 1;
    }
    for (const entry of backlog.entries) {
      if (items < maxItems && tracker.accept(entry.channel, entry.id)) {
        batch.message(entry.channel, entry.data, entry.id, entry.event !== "" ? entry.event : undefined);
        items += 1;
      }
    }
  }
  for (;;) {
    let waitMs = 0;
    if (items === 0) {
      // Below a millisecond a wait returns without yielding, and ngx.now() would not move on.
      const remainingMs = (deadline - ngx.now()) * 1000;
      if (remainingMs < 1) {
        return "timeout";
      }
      waitMs = math.min(mode.waitMs(remainingMs), remainingMs);
    }
    const [kind, a, b, id, event] = mode.next(subscription, waitMs);
    if (kind === "message") {
      if (id === "") {
        batch.message(a, b, undefined);
        items += 1;
      } else if (tracker.accept(a, id)) {
        batch.message(a, b, id, event !== "" ? event : undefined);
        items += 1;
      }
    } else if (kind === "notice") {
      batch.notice(a, b);
      items += 1;
    } else if (kind === "wake") {
      // nothing to take: wait again
    } else if (kind === "timeout") {
      if (stream.order !== undefined) {
        return "ended"; // a direct stream ended by the server API
      }
      if (items > 0 || ngx.worker.exiting()) {
        return "done";
      }
    } else if (kind === "ended") {
      return "ended";
    } else {
      return kind === "lost" && items === 0 ? "lost" : "done";
    }
    if (items >= maxItems) {
      return "done";
    }
  }
}

/**
 * Answers `batch` with the first messages of `request`, or an empty batch after `timeoutMs`. A
 * failure (nothing answered yet) comes back for the entry to answer.
 */
export function poll(request: StreamRequest, batch: Batch, settings: Settings, timeoutMs: number): Failure | undefined {
  const [stream, openFailure] = openUntilEnd(settings, request);
  if (stream === undefined) {
    return openFailure;
  }
  const [ok, outcome] = pcall(collect, stream, batch, timeoutMs, settings.queueMessages);
  finish(stream, settings);
  if (!ok) {
    ngx.log(ngx.ERR, "long-poll failed: ", tostring(outcome));
    return failure("internal", "internal error");
  }
  const order = stream.order;
  if (outcome === "ended" && order !== undefined) {
    // the server API ended it: a revoked token is refused; a disconnect says whether to come back
    return failure(order.ending === "revoked" ? "unauthorized" : order.reconnect ? "unavailable" : "forbidden", order.text);
  }
  if (outcome === "lost") {
    ngx.log(ngx.WARN, "redis subscription ended during a long-poll");
    return UNAVAILABLE;
  }
  // The next poll continues from here: one position per channel.
  batch.finish(stream.tracker.current());
  return undefined;
}
