// The interface every subscription mode fills (direct, shared), so the stream loop, transports,
// auth and framing serve both the same way.

import type { Settings } from "../config/schema";

/**
 * What `next` saw:
 * - "message": a = channel, b = payload, id = message id ("" for a plain PUBLISH), event = event
 *   name ("" for none)
 * - "notice": a = notice code, b = text (the stream goes on)
 * - "timeout": nothing within the wait
 * - "lost": the subscription's own Redis connection went away (direct mode): reconnect() may bring it back
 * - "shutdown": nginx is reloading or stopping
 * - "overflow": the client read too slowly and its queue overflowed (policy: disconnect)
 * - "wake": woken by wake() with nothing to deliver
 * - "catchup": the client read too slowly and its queue was dropped (policy catch-up): read what
 *   it missed from history, then call caughtUp()
 * - "ended": end() was called (the server API ends the stream; the stream knows why)
 */
export type EventKind = "message" | "notice" | "timeout" | "lost" | "shutdown" | "overflow" | "wake" | "catchup" | "ended";

/** @noSelf */
export interface SubscriptionMode<S> {
  /** Subscribes; returns only once Redis has confirmed every channel, or an error (→ 503). */
  open(channels: string[], settings: Settings): LuaMultiReturn<[S] | [undefined, string]>;
  /** Waits up to `timeoutMs` for the next event. */
  next(subscription: S, timeoutMs: number): LuaMultiReturn<[EventKind, string, string, string, string]>;
  /** True when messages are queued: `next` returns one without waiting (the stream flushes only when none is). */
  pending(subscription: S): boolean;
  /**
   * Adds channels to a live subscription (called from another light thread than `next`, e.g. a
   * WebSocket reader); returns once Redis has confirmed them, or an error.
   */
  add(subscription: S, channels: string[]): LuaMultiReturn<[true] | [undefined, string]>;
  /** Removes channels from a live subscription; their messages stop at once (bar those in flight). */
  remove(subscription: S, channels: string[]): void;
  /** Makes a waiting `next` return ("wake") soon, from another light thread; direct mode: within its wait. */
  wake(subscription: S): void;
  /**
   * Ends the stream from another light thread (the server API's disconnect, revoke): shared mode's
   * `next` returns "ended" at once; a direct stream looks at its order within its wait (waitMs).
   */
  end(subscription: S): void;
  /** The stream has read what it missed from history (after "catchup"): live messages flow again. */
  caughtUp(subscription: S): void;
  /** After "lost": a new connection subscribed to `channels` takes the lost one's place. */
  reconnect(subscription: S, channels: readonly string[], settings: Settings): LuaMultiReturn<[true] | [undefined, string]>;
  /** Releases the subscription; safe to call twice. */
  close(subscription: S): void;
  /** How long one `next` may wait, given the heartbeat interval (ms). */
  waitMs(heartbeatMs: number): number;
}
