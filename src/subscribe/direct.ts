// Subscription mode `direct`: each stream opens its own Redis connection and SUBSCRIBEs.
// Simple and isolated; costs one Redis connection per stream. The connections are spread over
// the configured Redis addresses and local source addresses in turn.

import type { Settings } from "../config/schema";
import * as redis from "../host/redis";
import { encodeCommand, readReply } from "../host/resp";
import { openEnvelope } from "../protocol/envelope";
import type { EventKind } from "./mode";

export interface DirectSubscription {
  sock: NgxTcpSocket;
  closed: boolean;
  /** SUBSCRIBE confirmations `add` waits for; `next` (the thread that reads) counts them down. */
  pending: number;
  timeoutMs: number;
}

/** How often `add` looks whether the reading thread has seen its confirmations (s). */
const CONFIRM_POLL_S = 0.005;

/** A direct stream cannot be told of a shutdown: it looks up this often to check (ms). */
const SHUTDOWN_CHECK_MS = 500;

/** Next (redis address, source address) pair, per worker. */
let route = 0;

export function open(channels: readonly string[], settings: Settings): LuaMultiReturn<[DirectSubscription] | [undefined, string]> {
  const addresses = settings.redis;
  const sources = settings.sourceAddresses;
  const sourceCount = math.max(sources.length, 1);
  const routes = addresses.length * sourceCount;
  route = (route % routes) + 1;
  const address = addresses[(route - 1) % addresses.length];
  const source = sources.length > 0 ? sources[math.floor((route - 1) / addresses.length) % sourceCount] : undefined;

  const timeoutMs = settings.redisTimeoutMs;
  const [sock, connectErr] = redis.connectSubscriber(address, timeoutMs, source);
  if (sock === undefined) {
    return $multi(undefined, connectErr);
  }
  if (channels.length === 0) {
    return $multi({ sock, closed: false, pending: 0, timeoutMs }); // channels come with add()
  }
  const [sent, sendErr] = sock.send(encodeCommand(["SUBSCRIBE", ...channels]));
  if (sent === undefined) {
    sock.close();
    return $multi(undefined, `failed to subscribe: ${sendErr}`);
  }
  // SUBSCRIBE answers once per channel.
  for (let i = 0; i < channels.length; i++) {
    const [reply, readErr] = readReply(sock, timeoutMs, timeoutMs);
    if (reply === undefined) {
      sock.close();
      return $multi(undefined, `failed to subscribe: ${readErr}`);
    }
  }
  return $multi({ sock, closed: false, pending: 0, timeoutMs });
}

export function reconnect(subscription: DirectSubscription, channels: readonly string[], settings: Settings): LuaMultiReturn<[true] | [undefined, string]> {
  if (subscription.closed) {
    return $multi(undefined, "the stream has ended");
  }
  const [fresh, err] = open(channels, settings);
  if (fresh === undefined) {
    return $multi(undefined, err);
  }
  subscription.sock.close();
  subscription.sock = fresh.sock;
  subscription.pending = 0;
  return $multi(true);
}

/** A direct stream reads its own socket: it cannot tell without reading, so it flushes every message. */
export function pending(_subscription: DirectSubscription): boolean {
  return false;
}

export function next(subscription: DirectSubscription, timeoutMs: number): LuaMultiReturn<[EventKind, string, string, string, string]> {
  // A socket timeout of 0 means "the default", hence at least 1 ms.
  const sock = subscription.sock;
  for (;;) {
    const [reply, err] = readReply(sock, math.max(timeoutMs, 1), subscription.timeoutMs);
    if (reply === undefined) {
      if (err === "timeout") {
        return $multi("timeout", "", "", "", "");
      }
      return $multi("lost", `${err}`, "", "", "");
    }
    const parts = reply as string[];
    if (parts[0] === "message") {
      const [id, event, data] = openEnvelope(parts[2]);
      if (id === undefined) {
        return $multi("message", parts[1], parts[2], "", "");
      }
      return $multi("message", parts[1], data, id, event);
    }
    if (parts[0] === "subscribe" && subscription.pending > 0) {
      subscription.pending -= 1;
    }
    // unsubscribe confirmations and other pushes carry no message
  }
}

export function add(subscription: DirectSubscription, channels: string[]): LuaMultiReturn<[true] | [undefined, string]> {
  subscription.pending += channels.length;
  const [sent, err] = subscription.sock.send(encodeCommand(["SUBSCRIBE", ...channels]));
  if (sent === undefined) {
    subscription.pending = 0;
    return $multi(undefined, `failed to subscribe: ${err}`);
  }
  const deadline = ngx.now() + subscription.timeoutMs / 1000;
  while (subscription.pending > 0) {
    if (subscription.closed || ngx.now() >= deadline) {
      subscription.pending = 0;
      return $multi(undefined, "failed to subscribe: redis did not confirm in time");
    }
    ngx.sleep(CONFIRM_POLL_S);
  }
  return $multi(true);
}

export function remove(subscription: DirectSubscription, channels: string[]): void {
  // Not awaited: Redis sends nothing more for these channels once it has read the command.
  subscription.sock.send(encodeCommand(["UNSUBSCRIBE", ...channels]));
}

export function close(subscription: DirectSubscription): void {
  if (!subscription.closed) {
    subscription.closed = true;
    if (ngx.get_phase() !== "log") {
      subscription.sock.close(); // in a request's log phase nginx closes the request's sockets itself
    }
  }
}

/** A direct stream has no queue to overflow: it never catches up. */
export function caughtUp(_subscription: DirectSubscription): void {}

/** A direct stream's wait is at most a second: it looks up on its own. */
export function wake(_subscription: DirectSubscription): void {}

/** A direct stream looks at its order (stream/control) after each wait of at most SHUTDOWN_CHECK_MS. */
export function end(_subscription: DirectSubscription): void {}

export function waitMs(heartbeatMs: number): number {
  return math.min(SHUTDOWN_CHECK_MS, heartbeatMs);
}
