// The serving loop of a one-way stream (chunked lines, SSE; and the writing half of a WebSocket):
// send the backlog, then copy what the subscription brings to the transport until the client
// goes away, Redis goes away, the token expires, or nginx shuts down.

import type { Settings } from "../config/schema";
import * as metrics from "../host/metrics";
import type { Ending } from "../protocol/ending";
import type { Transport } from "../transport/transport";
import { sendBacklog, Stream } from "./open";
import { catchUp, recover } from "./recovery";

/** How often a stream busy with messages looks whether nginx is reloading (s). */
const EXIT_CHECK_S = 0.2;

/** Sends what a hello has made ready: its backlog, then the live messages held back meanwhile. False when the client is gone. */
function sendHello(transport: Transport, stream: Stream): boolean {
  const [after, backlog, deferred] = stream.hello!.take();
  if (after === undefined) {
    return true;
  }
  const tracker = stream.tracker;
  for (const channel of Object.keys(after)) {
    tracker.resumeAfter(channel, after[channel]);
  }
  if (!sendBacklog(transport, tracker, backlog)) {
    return false;
  }
  for (const [channel, data, id, event] of deferred) {
    if (tracker.accept(channel, id)) {
      const [written] = transport.message(channel, data, id, event !== "" ? event : undefined, tracker.cursor(id));
      if (written === undefined) {
        return false;
      }
    }
  }
  return transport.flush()[0] !== undefined;
}

/** How the subscription's end reads to the client. */
function endingOf(kind: string): Ending {
  if (kind === "lost") {
    return "redis-lost";
  }
  return kind === "overflow" ? "overflow" : "restart";
}

/** Closes a stream the server API ended (stream/control): its reason, and whether to come back. */
function closeOrdered(transport: Transport, stream: Stream): void {
  const order = stream.order!;
  transport.close(order.ending, order.text, order.reconnect);
}

/** Copies the stream's events to `transport` until one side ends. */
export function pump(transport: Transport, settings: Settings, stream: Stream): void {
  const backlog = stream.backlog;
  if (backlog !== undefined) {
    stream.backlog = undefined; // only when set: storing nil under a new key grows the record's hash
    if (!sendBacklog(transport, stream.tracker, backlog)) {
      return;
    }
  }
  const mode = stream.mode;
  const subscription = stream.subscription;
  const tracker = stream.tracker;
  const heartbeatMs = settings.heartbeatSeconds * 1000;
  const waitMs = mode.waitMs(heartbeatMs);
  let idleMs = 0;
  let exitCheckedAt = ngx.now();
  /** Messages were written and not flushed: they go out once nothing more is queued. */
  let unflushed = false;
  for (;;) {
    if (unflushed && !mode.pending(subscription)) {
      unflushed = false;
      const [flushed] = transport.flush();
      if (flushed === undefined) {
        return;
      }
    }
    let wait = waitMs;
    const expires = stream.identity.expires; // a WebSocket refresh may replace the identity
    if (expires !== undefined) {
      const leftMs = (expires - ngx.now()) * 1000;
      if (leftMs <= 0) {
        transport.close("token-expired");
        return;
      }
      wait = math.min(wait, leftMs + 1);
    }
    const [kind, a, b, id, event] = mode.next(subscription, wait);
    const hello = stream.hello;
    if (hello !== undefined && !sendHello(transport, stream)) {
      return;
    }
    if (kind === "message") {
      idleMs = 0;
      if (stream.revoked !== undefined && stream.revoked.has(a)) {
        // a channel a refresh took away: what was on its way is not delivered
      } else if (id === "" && event === "") {
        const [written] = transport.message(a, b, undefined); // a plain PUBLISH: no id
        if (written === undefined) {
          return; // the client is gone
        }
        unflushed = true;
      } else if (id === "") {
        const [written] = transport.notice(event, b); // join and leave (store/presence)
        if (written === undefined) {
          return;
        }
      } else if (hello !== undefined && hello.defer(a, b, id, event)) {
        // its channel's backlog goes first
      } else if (tracker.accept(a, id)) {
        const [written] = transport.message(a, b, id, event !== "" ? event : undefined, tracker.cursor(id));
        if (written === undefined) {
          return;
        }
        metrics.delivered(id);
        unflushed = true;
      }
      // A stream busy with messages never waits long enough to time out: look at the clock.
      const now = ngx.now();
      if (now - exitCheckedAt >= EXIT_CHECK_S) {
        exitCheckedAt = now;
        if (ngx.worker.exiting()) {
          transport.close("restart");
          return;
        }
        if (stream.order !== undefined) {
          closeOrdered(transport, stream); // a direct stream ended by the server API
          return;
        }
      }
    } else if (kind === "catchup") {
      if (!catchUp(transport, settings, stream)) {
        transport.close("redis-lost");
        return;
      }
    } else if (kind === "wake") {
      // woken for a hello's backlog (sent above) or a channel confirmed
    } else if (kind === "timeout") {
      if (ngx.worker.exiting()) {
        transport.close("restart");
        return;
      }
      if (stream.order !== undefined) {
        closeOrdered(transport, stream);
        return;
      }
      idleMs += wait;
      if (idleMs >= heartbeatMs) {
        idleMs = 0;
        const [written] = transport.heartbeat();
        if (written === undefined) {
          return;
        }
      }
    } else if (kind === "notice") {
      idleMs = 0;
      const [written] = transport.notice(a, b);
      if (written === undefined) {
        return;
      }
    } else if (kind === "lost") {
      ngx.log(ngx.WARN, "redis subscription ended: ", a);
      const next = recover(transport, settings, stream);
      if (next !== "go") {
        if (next !== undefined) {
          transport.close(next);
        }
        return;
      }
    } else if (kind === "ended") {
      closeOrdered(transport, stream);
      return;
    } else {
      transport.close(endingOf(kind));
      return;
    }
  }
}

/** Runs pump() in protected mode: a fault ends this stream only, and is logged. */
export function pumpSafely(this: void, transport: Transport, settings: Settings, stream: Stream): void {
  const [ok, err] = pcall(pump, transport, settings, stream);
  if (!ok) {
    ngx.log(ngx.ERR, "stream failed: ", tostring(err));
  }
}

/**
 * Streams an open stream (openUntilEnd) to `transport` until it ends. The entry calls it as its
 * last act, and it calls pump() as its own: tail calls, so while a stream waits its thread's stack
 * holds pump() and what it calls, not the request's parsing (query, credentials) nor these frames.
 * That keeps an idle stream's Lua stack in LuaJIT's smaller size. The request's log phase
 * finishes the stream (stream/open requestEnded), however it ends: a fault in pump() too.
 */
export function streamTo(transport: Transport, settings: Settings, stream: Stream): void {
  const [opened] = transport.open();
  if (opened === undefined) {
    return;
  }
  return pump(transport, settings, stream);
}
