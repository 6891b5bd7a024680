// A channel's durable messages in Redis: publish (keep in the channel's capped stream, then
// PUBLISH, or SPUBLISH in a cluster, with its id: pushgate_publish in redis/pushgate.lua) and history (what came after a
// position, or the last N: pushgate_history). One history rule decides what both keep and read.
// publishEach carries the server API's batches in a cluster (a pipeline per primary).

import { historyRuleFor, Settings } from "../config/schema";
import type { Failure } from "../protocol/failure";
import type { PublishOptions, Published } from "../protocol/published";
import { idempotencyKey, metaKey, streamKey } from "../protocol/keys";
import { BatchCall, fcallByNode } from "./cluster/pipeline";
import * as events from "./events";
import * as pool from "./pool";
import { isCluster } from "./topology";

/** One kept message. */
export interface StoredMessage {
  channel: string;
  id: string;
  event: string;
  data: string;
}

/** What is kept of a channel when no history rule names it: the default of PUSHGATE_HISTORY. */
const DEFAULT_HISTORY = { pattern: "*", length: 1000, seconds: 86400 };

/** How much history `channel` keeps: entries and seconds (0: no age bound). */
export function historyOf(settings: Settings, channel: string): { length: number; seconds: number } {
  return historyRuleFor(settings.history, channel) ?? DEFAULT_HISTORY;
}

/** Publishes `data` to `channel` (already validated and allowed). */
export function publish(settings: Settings, channel: string, data: string, options: PublishOptions): LuaMultiReturn<[Published] | [undefined, Failure]> {
  const rule = historyOf(settings, channel);
  // Without an idempotency key the key is left out: '' would be a key of another cluster slot.
  const keys = [streamKey(channel), metaKey(channel)];
  if (options.idempotencyKey !== undefined) {
    keys.push(idempotencyKey(channel, options.idempotencyKey));
  }
  const [reply, failure] = pool.call(
    settings,
    "publish",
    "pushgate_publish",
    keys,
    [
      channel,
      data,
      options.event ?? "",
      `${rule.length}`,
      `${rule.seconds * 1000}`,
      `${settings.idempotencySeconds * 1000}`,
      isCluster(settings) ? "SPUBLISH" : "PUBLISH",
    ],
    false,
    settings.publishReplicas,
  );
  if (reply === undefined) {
    return $multi(undefined, failure);
  }
  const [id, subscribers, duplicate] = reply as [string, number, number];
  if (duplicate !== 1) {
    events.published(settings, channel, id); // an inbox message may fall due for an unread event
  }
  return $multi({ id, subscribers, duplicate: duplicate === 1 });
}

/**
 * Publishes each [channel, data, event] of a batch (already validated and allowed) in one session:
 * in a cluster one pipeline per primary (store/cluster/pipeline), then what a pipeline left
 * unsettled (a moved slot, a missing library) one routed call each; on one Redis call by call.
 * For each, in order, what was published or the error that channel met (the others still go out).
 * Unavailable when no session opens.
 */
export function publishEach(settings: Settings, items: Array<[string, string, string]>): LuaMultiReturn<[Array<Published | string>] | [undefined, Failure]> {
  const [session, failure] = pool.open(settings);
  if (session === undefined) {
    return $multi(undefined, failure);
  }
  const publishVerb = isCluster(settings) ? "SPUBLISH" : "PUBLISH";
  const idemMs = `${settings.idempotencySeconds * 1000}`;
  const calls: BatchCall[] = [];
  for (const [channel, data, event] of items) {
    const rule = historyOf(settings, channel);
    calls.push({
      keys: [streamKey(channel), metaKey(channel)],
      args: [channel, data, event, `${rule.length}`, `${rule.seconds * 1000}`, idemMs, publishVerb],
      again: session.cluster === undefined,
    });
  }
  if (session.cluster !== undefined) {
    fcallByNode(session.cluster, "pushgate_publish", calls);
  }
  const out: Array<Published | string> = [];
  for (let i = 0; i < calls.length; i++) {
    const call = calls[i];
    if (call.again === true) {
      const [reply, err] = pool.fcall(session, "pushgate_publish", call.keys, call.args, false);
      call.reply = reply;
      call.err = err as string | undefined;
    }
    if (call.reply === undefined) {
      ngx.log(ngx.ERR, `failed to publish to ${items[i][0]}: ${call.err}`);
      out.push(`${call.err}`);
    } else {
      const [id, subscribers] = call.reply as [string, number];
      out.push({ id, subscribers, duplicate: false });
    }
  }
  pool.close(session);
  return $multi(out);
}

/**
 * What each channel kept after its position in `after` (channels without one: the last `lastN`,
 * or nothing when lastN is 0), appended to `into` channel by channel, oldest first, at most
 * `perChannel` each (default: all that is kept); and the channels whose position is older than
 * what is kept (a gap).
 */
export function history(
  settings: Settings,
  channels: readonly string[],
  after: Record<string, string>,
  lastN: number,
  into: StoredMessage[],
  perChannel = 0,
): LuaMultiReturn<[string[]] | [undefined, Failure]> {
  const [session, failure] = pool.open(settings);
  if (session === undefined) {
    return $multi(undefined, failure);
  }
  const gaps: string[] = [];
  for (const channel of channels) {
    const position = after[channel];
    if (position !== undefined || lastN > 0) {
      const rule = historyOf(settings, channel);
      let count = position !== undefined ? rule.length : math.min(lastN, rule.length);
      if (perChannel > 0) {
        count = math.min(count, perChannel);
      }
      const [reply, callFailure] = pool.callIn(
        session,
        "read history",
        "pushgate_history",
        [streamKey(channel), metaKey(channel)],
        [position ?? "", `${count}`, `${rule.seconds * 1000}`],
        true,
      );
      if (reply === undefined) {
        return $multi(undefined, callFailure);
      }
      const [gap, items] = reply as [number, Array<[string, string, string]>];
      if (gap === 1) {
        gaps.push(channel);
      }
      for (const [id, data, event] of items) {
        into.push({ channel, id, data, event });
      }
    }
  }
  pool.close(session);
  return $multi(gaps);
}
