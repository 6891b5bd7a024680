// Subscription mode `direct`: each stream opens its own Redis connection and SUBSCRIBEs.
// Simple and isolated; costs one Redis connection per stream. The connections are spread over
// the configured Redis addresses and local source addresses in turn.

import type { Settings } from "../config/schema";
import * as redis from "../host/redis";

export interface DirectSubscription {
  red: RestyRedis;
}

/** Next (redis address, source address) pair, per worker. */
let route = 0;

export function open(channels: string[], settings: Settings): LuaMultiReturn<[DirectSubscription] | [undefined, string]> {
  const addresses = settings.redis;
  const sources = settings.sourceAddresses;
  const sourceCount = math.max(sources.length, 1);
  const routes = addresses.length * sourceCount;
  route = (route % routes) + 1;
  const address = addresses[(route - 1) % addresses.length];
  const source = sources.length > 0 ? sources[math.floor((route - 1) / addresses.length) % sourceCount] : undefined;

  const [red, connectErr] = redis.connect(address, settings.redisTimeoutMs, source);
  if (red === undefined) {
    return $multi(undefined, connectErr);
  }
  const [confirmed, subscribeErr] = red.subscribe(...channels);
  if (confirmed === undefined || confirmed === false) {
    red.close();
    return $multi(undefined, `failed to subscribe: ${subscribeErr}`);
  }
  // SUBSCRIBE answers once per channel; the first answer was read above.
  for (let i = 1; i < channels.length; i++) {
    const [reply, readErr] = red.read_reply();
    if (reply === undefined || reply === false) {
      red.close();
      return $multi(undefined, `failed to subscribe: ${readErr}`);
    }
  }
  return $multi({ red });
}

/**
 * Waits up to `timeoutMs` for the next message. Returns channel and payload, or undefined and
 * "timeout" (the connection stays usable) or another error (the connection is gone).
 */
export function next(subscription: DirectSubscription, timeoutMs: number): LuaMultiReturn<[string, string] | [undefined, string]> {
  const red = subscription.red;
  red.set_timeout(timeoutMs);
  for (;;) {
    const [reply, err] = red.read_reply();
    if (reply === undefined || reply === false) {
      return $multi(undefined, err);
    }
    if (reply[0] === "message") {
      return $multi(reply[1] as string, reply[2] as string);
    }
    // subscribe confirmations and other pushes carry no message
  }
}

export function close(subscription: DirectSubscription): void {
  subscription.red.close();
}
