// Read state: a user's read position per channel, kept in Redis (pushgate_ack in
// redis/pushgate.lua moves it forward only). Shared by POST /ack and the WebSocket ack frame.

import type { Settings } from "./config/schema";
import * as functions from "./host/functions";
import * as redis from "./host/redis";
import { isValidId } from "./protocol/cursor";
import { readKey } from "./protocol/keys";

/**
 * Moves `user`'s read position on `channel` forward to `id` (never back). Returns the position
 * after the call, or undefined, a status (400, 503) and a message.
 */
export function acknowledge(settings: Settings, user: string, channel: string, id: string): LuaMultiReturn<[string] | [undefined, number, string]> {
  if (!isValidId(id)) {
    return $multi(undefined, 400, "invalid id: a message id like 1700000000000-0");
  }
  const [red, connectErr] = redis.connect(settings.redis[0], settings.redisTimeoutMs, undefined, true);
  if (red === undefined) {
    ngx.log(ngx.ERR, connectErr);
    return $multi(undefined, 503, "redis is unavailable, try again later");
  }
  const [position, err, lost] = functions.call(red, "pushgate_ack", [readKey(user)], [channel, id]);
  if (position === undefined) {
    redis.release(red, lost === true);
    ngx.log(ngx.ERR, "failed to acknowledge: ", `${err}`);
    return $multi(undefined, 503, "redis is unavailable, try again later");
  }
  redis.release(red);
  return $multi(position as string);
}
