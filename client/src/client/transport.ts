// The one interface every transport fills (WebSocket, Server-Sent Events, long-poll): open a
// connection for a request, report what arrives, end at most once. The subscription above does
// the bookkeeping (cursors, duplicates, reconnects, fallback); a transport only frames.

export type TransportName = "ws" | "sse" | "longpoll";

/** What the client reads of a WebSocket or EventSource event. */
export interface SocketEvent {
  type?: unknown;
  /** A message's text; an EventSource `error` event sent by the gateway has it too. */
  data?: unknown;
  /** A WebSocket close code; Node's eventsource: the HTTP status of a refusal. */
  code?: unknown;
  reason?: unknown;
  message?: unknown;
}

/** The part of the WebSocket API the client uses (the browser's, or the `ws` package's). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: "open" | "message" | "close" | "error", listener: (event: SocketEvent) => void): void;
}
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** The part of the EventSource API the client uses (the browser's, or the `eventsource` package's). */
export interface EventSourceLike {
  readonly readyState: number;
  close(): void;
  addEventListener(type: string, listener: (event: SocketEvent) => void): void;
}
export type EventSourceConstructor = new (url: string) => EventSourceLike;

export type FetchFunction = (
  url: string,
  init?: { method?: string; headers?: Record<string, string>; body?: string; signal?: AbortSignal },
) => Promise<{ status: number; ok: boolean; headers: { get(name: string): string | null }; text(): Promise<string> }>;

/** A message as it comes off the wire. */
export interface WireMessage {
  channel: string;
  data: string;
  id?: string;
  event?: string;
  /** The compound cursor after it, on a stream of several channels. */
  cursor?: string;
}

/** Why a connection ended. */
export interface Ending {
  reason: string;
  /** False when the gateway said not to come back as things are (`reconnect: false`, a 4xx). */
  reconnect: boolean;
  /** True when the connection had opened before it ended. */
  opened: boolean;
  /** The HTTP status, when the transport could see one. */
  status?: number;
  retryAfterMs?: number;
}

export interface ConnectionEvents {
  open(): void;
  message(message: WireMessage): void;
  /** `channel`: the channel a notice is about, when it names one (`revoked`). */
  notice(notice: string, message: string, channel?: string): void;
  /** A cursor the gateway handed out on its own (long-poll's answer). */
  cursor(cursor: string): void;
  /** Any other frame (WebSocket answers to publish, ack, ...). */
  reply(frame: Record<string, unknown>): void;
  /** Called at most once, never after close(). */
  end(ending: Ending): void;
}

export interface ConnectRequest {
  /** The gateway's HTTP base URL, without a trailing slash. */
  base: string;
  wsUrl: string;
  channels: readonly string[];
  /** Where to resume now (asked again at each long-poll): a compound cursor, or "" for live. */
  cursor(): string;
  token: string | undefined;
  user: string | undefined;
  connectTimeoutMs: number;
  longPollSeconds: number;
  WebSocket: WebSocketConstructor | undefined;
  EventSource: EventSourceConstructor | undefined;
  fetch: FetchFunction | undefined;
}

export interface Connection {
  close(): void;
  /** Sends a control frame on a duplex connection; false when it cannot (not open, not duplex). */
  send(frame: Record<string, unknown>): boolean;
  /**
   * Hands a new token to the live connection. False when the transport cannot, and the
   * subscription reconnects with the token and its cursor instead.
   */
  refreshToken(token: string): boolean;
}

export type Opener = (request: ConnectRequest, events: ConnectionEvents) => Connection;

/** The query of a stream request: channels, cursor, token, user. */
export function streamQuery(request: ConnectRequest, extra: Record<string, string> = {}): string {
  const query = new URLSearchParams({ key: request.channels.join(","), ...extra });
  const cursor = request.cursor();
  if (cursor.length > 0) {
    query.set("since", cursor);
  }
  if (request.token !== undefined) {
    query.set("token", request.token);
  }
  if (request.user !== undefined) {
    query.set("user", request.user);
  }
  return query.toString();
}

/** Parses a JSON text frame or line into an object; undefined when it is not one. */
export function parseObject(text: unknown): Record<string, unknown> | undefined {
  if (typeof text !== "string") {
    return undefined;
  }
  try {
    const value = JSON.parse(text) as unknown;
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** A message object of the wire ({channel, data, id?, event?, cursor?}), checked. */
export function wireMessage(value: Record<string, unknown>): WireMessage | undefined {
  const { channel, data, id, event, cursor } = value;
  if (typeof channel !== "string" || typeof data !== "string") {
    return undefined;
  }
  return {
    channel,
    data,
    id: typeof id === "string" ? id : undefined,
    event: typeof event === "string" ? event : undefined,
    cursor: typeof cursor === "string" ? cursor : undefined,
  };
}
