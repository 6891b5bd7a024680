// Pushgate's client library, for browsers and Node: subscribe to channels over WebSocket,
// Server-Sent Events or long-poll, and keep receiving across drops, reloads and token expiry,
// each durable message once and in order. No dependencies; in Node pass the `ws` WebSocket and
// the `eventsource` EventSource as options.

import { SubscribeOptions, Subscription } from "./client/subscription.js";

export { Subscription } from "./client/subscription.js";
export type { Message, Notice, State, SubscribeOptions, SubscriptionEvents } from "./client/subscription.js";
export { PushgateError } from "./client/errors.js";
export type { AckResult, PublishOptions, PublishResult } from "./client/http.js";
export type { EventSourceConstructor, EventSourceLike, FetchFunction, TransportName, WebSocketConstructor, WebSocketLike } from "./client/transport.js";
export { compareIds, formatCursor, parseCursor } from "./client/ids.js";

/**
 * Subscribes to `channels` (an array, or "a,b"): the subscription connects at once and emits
 * `message`, `notice`, `state` and `error` events; `close()` ends it.
 */
export function subscribe(channels: string | readonly string[], options: SubscribeOptions = {}): Subscription {
  return new Subscription(channels, options);
}
