// Subscription mode `shared`: streams register with the worker's hub (src/hub/), which holds the
// one Redis connection; each stream's own thread waits on its queue and writes.

import type { Settings } from "../config/schema";
import * as settingsHolder from "../host/settings";
import * as hub from "../hub/hub";
import * as queue from "../hub/queue";
import type { EventKind } from "./mode";

export type SharedSubscription = hub.Subscriber;

/** How often a stream waiting for the hub's connection looks again (s). */
const CONNECT_POLL_S = 0.05;
/** How often `add` looks whether Redis has confirmed channels added at run time (s). */
const CONFIRM_POLL_S = 0.005;

export function open(channels: string[], settings: Settings): LuaMultiReturn<[SharedSubscription] | [undefined, string]> {
  const deadline = ngx.now() + settings.redisTimeoutMs / 1000;
  // The hub may be between two connection attempts: give it until the Redis timeout.
  while (!hub.isConnected()) {
    if (ngx.now() >= deadline) {
      return $multi(undefined, "failed to subscribe: the hub has no redis connection");
    }
    ngx.sleep(CONNECT_POLL_S);
  }
  const [subscriber, err] = hub.join(channels);
  if (subscriber === undefined) {
    return $multi(undefined, err);
  }
  while (!hub.isReady(subscriber)) {
    // Below a millisecond a wait returns without yielding, and ngx.now() would not move on.
    const remaining = deadline - ngx.now();
    if (remaining < 0.001 || queue.endedBy(subscriber) !== undefined) {
      hub.leave(subscriber);
      return $multi(undefined, "failed to subscribe: redis did not confirm in time");
    }
    queue.wait(subscriber, remaining);
  }
  return $multi(subscriber);
}

export function next(subscriber: SharedSubscription, timeoutMs: number): LuaMultiReturn<[EventKind, string, string, string, string]> {
  for (;;) {
    // nginx is reloading or stopping, or the server API ends the stream: end now, not after the queue
    const endedNow = queue.endedBy(subscriber);
    if (endedNow !== undefined && endedNow !== "overflow") {
      if (endedNow === "ended") {
        return $multi("ended", "", "", "", "");
      }
      return $multi("shutdown", "server restart", "", "", "");
    }
    const dropped = queue.takeDropped(subscriber);
    if (dropped > 0) {
      return $multi("notice", "dropped", `${dropped} messages dropped: the client reads too slowly`, "", "");
    }
    if (!queue.isEmpty(subscriber)) {
      const [channel, data, id, event] = queue.shift(subscriber);
      if (channel === "") {
        return $multi("notice", data, id !== "" ? id : (hub.NOTICE_TEXT[data] ?? data), "", "");
      }
      return $multi("message", channel, data, id, event);
    }
    if (queue.isLagging(subscriber)) {
      return $multi("catchup", "", "", "", "");
    }
    const ended = queue.endedBy(subscriber);
    if (ended === "overflow") {
      return $multi("overflow", "client too slow: its queue overflowed", "", "", "");
    }
    if (ended !== undefined) {
      return $multi("shutdown", "server restart", "", "", "");
    }
    if (!queue.wait(subscriber, timeoutMs / 1000)) {
      return $multi("timeout", "", "", "", "");
    }
    if (queue.isEmpty(subscriber) && queue.endedBy(subscriber) === undefined && !queue.hasDropped(subscriber)) {
      return $multi("wake", "", "", "", "");
    }
  }
}

export function pending(subscriber: SharedSubscription): boolean {
  return !queue.isEmpty(subscriber);
}

/** The hub reconnects by itself: a shared subscription is never "lost". */
export function reconnect(_subscriber: SharedSubscription, _channels: readonly string[], _settings: Settings): LuaMultiReturn<[true] | [undefined, string]> {
  return $multi(undefined, "the hub reconnects by itself");
}

export function caughtUp(subscriber: SharedSubscription): void {
  queue.caughtUp(subscriber);
}

export function wake(subscriber: SharedSubscription): void {
  queue.wake(subscriber);
}

export function end(subscriber: SharedSubscription): void {
  queue.end(subscriber, "ended");
}

export function add(subscriber: SharedSubscription, channels: string[]): LuaMultiReturn<[true] | [undefined, string]> {
  hub.addChannels(subscriber, channels);
  // The stream's own thread waits on the subscriber's semaphore; this one looks again instead.
  const deadline = ngx.now() + settingsHolder.get().redisTimeoutMs / 1000;
  while (!hub.isReady(subscriber)) {
    if (queue.endedBy(subscriber) !== undefined || ngx.now() >= deadline) {
      return $multi(undefined, "failed to subscribe: redis did not confirm in time");
    }
    ngx.sleep(CONFIRM_POLL_S);
  }
  return $multi(true);
}

export function remove(subscriber: SharedSubscription, channels: string[]): void {
  hub.removeChannels(subscriber, channels);
}

export function close(subscriber: SharedSubscription): void {
  hub.leave(subscriber);
}

export function waitMs(heartbeatMs: number): number {
  return heartbeatMs; // the hub wakes the stream for shutdowns
}
