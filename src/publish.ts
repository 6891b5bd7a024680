// Durable publishing, shared by POST /pub and the WebSocket publish frame: one atomic Redis
// function (pushgate_publish in redis/pushgate.lua) keeps the message in the channel's capped
// stream and PUBLISHes it with its id.

import { historyRuleFor, Settings } from "./config/schema";
import * as functions from "./host/functions";
import * as redis from "./host/redis";
import { idempotencyKey, metaKey, streamKey } from "./protocol/keys";

export interface PublishOptions {
  /** Event name ("" or undefined: none); validated by the caller (isValidEvent). */
  event?: string;
  /** A retry with the same key within the idempotency window is stored and sent once. */
  idempotencyKey?: string;
}

export interface Published {
  /** The message id: the stream entry id, monotonic per channel. */
  id: string;
  /** Redis subscriptions that received it (one per stream in direct mode, per worker in shared). */
  subscribers: number;
  /** True when the idempotency key had been seen: nothing was stored or sent again. */
  duplicate: boolean;
}

/**
 * Publishes `data` to `channel` (already validated). Returns the result, or undefined, an HTTP
 * status fit for the failure, and a message for the client.
 */
export function publish(
  settings: Settings,
  channel: string,
  data: string,
  options: PublishOptions = {},
): LuaMultiReturn<[Published] | [undefined, number, string]> {
  const rule = historyRuleFor(settings.history, channel) ?? { pattern: "*", length: 1000, seconds: 86400 };
  const [red, connectErr] = redis.connect(settings.redis[0], settings.redisTimeoutMs, undefined, true);
  if (red === undefined) {
    ngx.log(ngx.ERR, connectErr);
    return $multi(undefined, 503, "redis is unavailable, try again later");
  }
  const idem = options.idempotencyKey !== undefined ? idempotencyKey(channel, options.idempotencyKey) : "";
  const [reply, err, lost] = functions.call(
    red,
    "pushgate_publish",
    [streamKey(channel), metaKey(channel), idem],
    [channel, data, options.event ?? "", `${rule.length}`, `${rule.seconds * 1000}`, `${settings.idempotencySeconds * 1000}`],
  );
  if (reply === undefined) {
    redis.release(red, lost === true);
    ngx.log(ngx.ERR, "failed to publish: ", `${err}`);
    return $multi(undefined, 503, "redis is unavailable, try again later");
  }
  redis.release(red);
  const [id, subscribers, duplicate] = reply as [string, number, number];
  return $multi({ id, subscribers, duplicate: duplicate === 1 });
}
