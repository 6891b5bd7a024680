// Publishing a message, shared by POST /pub and (later) the WebSocket publish frame.

import type { Settings } from "./config/schema";
import * as redis from "./host/redis";

export interface Published {
  /** Redis subscriptions that received it (PUBLISH's answer). */
  subscribers: number;
}

/**
 * Publishes `data` to `channel` (already validated). Returns the result, or undefined, an HTTP
 * status fit for the failure, and a message for the client.
 */
export function publish(settings: Settings, channel: string, data: string): LuaMultiReturn<[Published] | [undefined, number, string]> {
  const [red, connectErr] = redis.connect(settings.redis[0], settings.redisTimeoutMs, undefined, true);
  if (red === undefined) {
    ngx.log(ngx.ERR, connectErr);
    return $multi(undefined, 503, "redis is unavailable, try again later");
  }
  const [receivers, publishErr] = red.publish(channel, data);
  if (receivers === undefined || receivers === false) {
    red.close();
    ngx.log(ngx.ERR, "failed to publish: ", publishErr);
    return $multi(undefined, 503, "redis is unavailable, try again later");
  }
  redis.release(red);
  return $multi({ subscribers: receivers });
}
