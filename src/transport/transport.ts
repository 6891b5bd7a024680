// The interface every transport fills (chunked JSON lines; SSE, long-poll and WebSocket to come):
// it only frames and writes. Subscribing, queues, auth and resume live in the core (src/stream.ts,
// src/subscribe/), the same for every transport.

export type WriteResult = LuaMultiReturn<[1] | [undefined, string]>;

export interface Transport {
  /** Sends the status and headers (or completes a handshake) once the subscription is confirmed. */
  open(): WriteResult;
  /** One message; `id` is its message id when it has one (durable publishing). */
  message(channel: string, data: string, id: string | undefined): WriteResult;
  /** A notice on a stream that goes on: `code` is stable, `text` is for people. */
  notice(code: string, text: string): WriteResult;
  /** Keeps an idle stream alive. */
  heartbeat(): WriteResult;
  /** Ends the stream with a reason; `reconnect` says whether trying again is the right reaction. */
  close(reason: string, reconnect: boolean): void;
}
