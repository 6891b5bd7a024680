// The interfaces transports fill (chunked JSON lines, SSE, WebSocket; long-poll fills Batch):
// a transport only frames and writes. Subscribing, queues, auth, publishing and resume live in the
// stream core (src/stream/, src/subscribe/), the same for every transport; a duplex transport acts
// on its client's frames through the Session the core hands it.

import type { Ending } from "../protocol/ending";
import type { Published } from "../protocol/published";

export type WriteResult = LuaMultiReturn<[1] | [undefined, string]>;

/**
 * A transport that gathers messages (message() does not wait for the socket) flushes at least
 * every this many bytes, so a slow client holds back a long burst or backlog (back-pressure).
 */
export const FLUSH_BYTES = 65536;

export interface Transport {
  /** Sends the status and headers (or completes a handshake) once the subscription is confirmed. */
  open(): WriteResult;
  /**
   * One message. A durable one has its `id` and maybe an `event` name; `cursor` is where a client
   * resumes after it (the id itself on a one-channel stream, channel=id,... on several).
   */
  message(channel: string, data: string, id: string | undefined, event?: string, cursor?: string): WriteResult;
  /**
   * Sends what message() gathered and waits until the socket took it. The pump calls it when the
   * stream has nothing more queued: a burst goes out in few system calls, and a single message at once.
   */
  flush(): WriteResult;
  /** A notice on a stream that goes on: `code` is stable, `text` is for people. */
  notice(code: string, text: string): WriteResult;
  /** Keeps an idle stream alive. */
  heartbeat(): WriteResult;
  /**
   * Ends the stream with its last line (or frame): why, and whether to reconnect (protocol/ending.ts);
   * `text` and `reconnect` replace the ending's own (a disconnect's reason, from the server API).
   */
  close(ending: Ending, text?: string, reconnect?: boolean): void;
}

/**
 * What a duplex transport (WebSocket) may do with its live subscription, from its reader thread.
 * `add` returns once Redis has confirmed the channels; both change the channels of `channels`.
 */
export interface Session {
  /** The channels subscribed now, as keys. */
  readonly channels: LuaTable<string, true>;
  add(names: string[]): LuaMultiReturn<[true] | [undefined, string]>;
  /**
   * Resumes channels after the given ids (subscribing those not yet subscribed): what was kept
   * since is sent before their live messages, once each. Returns once it is under way.
   */
  resume(after: Record<string, string>): LuaMultiReturn<[true] | [undefined, string]>;
  /** Moves the user's read position on `channel` to `id`: the position after, or an error. */
  ack(channel: string, id: string): LuaMultiReturn<[string] | [undefined, string]>;
  /** Publishes as the connection's publisher (checked as POST /pub is), or an error. */
  publish(channel: string, data: string, event: string | undefined, idempotencyKey: string | undefined): LuaMultiReturn<[Published] | [undefined, string]>;
  remove(names: string[]): void;
  /**
   * Hands the connection a new token: its grant and expiry replace the old ones. Gives when the
   * stream now ends, and the channels it no longer grants (already unsubscribed), or an error.
   */
  refresh(token: string): LuaMultiReturn<[number | undefined, string[]] | [undefined, string]>;
}

/** A transport that also reads from its client: `read` runs in a light thread of its own. */
export interface DuplexTransport extends Transport {
  /** Reads and answers the client until it leaves or the connection must end. */
  read(session: Session): void;
}

/** A transport that answers once, with what one wait collected (long-poll). */
export interface Batch {
  message(channel: string, data: string, id: string | undefined, event?: string): void;
  notice(code: string, text: string): void;
  /** Sends the answer; `cursor` is where the next request continues (undefined while messages have no ids). */
  finish(cursor: string | undefined): void;
}
