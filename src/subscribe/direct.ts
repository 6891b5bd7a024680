// Subscription mode `direct`: each stream opens its own Redis connection and SUBSCRIBEs.
// Simple and isolated; costs one Redis connection per stream. The connections are spread over
// the configured Redis addresses and local source addresses in turn.

import type { Settings } from "../config/schema";
import * as redis from "../host/redis";
import type { EventKind } from "./mode";

export interface DirectSubscription {
  red: RestyRedis;
  closed: boolean;
}

/** A direct stream cannot be told of a shutdown: it looks up this often to check (ms). */
const SHUTDOWN_CHECK_MS = 1000;

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
  return $multi({ red, closed: false });
}

export function next(subscription: DirectSubscription, timeoutMs: number): LuaMultiReturn<[EventKind, string, string]> {
  const red = subscription.red;
  red.set_timeout(timeoutMs);
  for (;;) {
    const [reply, err] = red.read_reply();
    if (reply === undefined || reply === false) {
      if (err === "timeout") {
        return $multi("timeout", "", "");
      }
      return $multi("lost", `${err}`, "");
    }
    if (reply[0] === "message") {
      return $multi("message", reply[1] as string, reply[2] as string);
    }
    // subscribe confirmations and other pushes carry no message
  }
}

export function close(subscription: DirectSubscription): void {
  if (!subscription.closed) {
    subscription.closed = true;
    subscription.red.close();
  }
}

export function waitMs(heartbeatMs: number): number {
  return math.min(SHUTDOWN_CHECK_MS, heartbeatMs);
}
