// The server API (POST /api, JSON-RPC 2.0) from Node: one typed method per API method, a batch
// call, and ApiError carrying the stable JSON-RPC error code (src/protocol/jsonrpc.ts).

export {
  FORBIDDEN,
  INTERNAL_ERROR,
  INVALID_PARAMS,
  INVALID_REQUEST,
  LIMITED,
  METHOD_NOT_FOUND,
  PARSE_ERROR,
  TOO_LARGE,
  UNAUTHORIZED,
  UNAVAILABLE,
} from "../src/protocol/jsonrpc";

export interface ApiOptions {
  /** The publisher key or the admin key, sent as `Authorization: Bearer <key>`. */
  key?: string;
  /** Time allowed for each request, in milliseconds (default 10000). */
  timeoutMs?: number;
}

/** A JSON-RPC error the gateway answered (code: see the exported codes), or no answer (code 0). */
export class ApiError extends Error {
  readonly code: number;
  constructor(method: string, code: number, message: string) {
    super(`${method} failed: ${message}`);
    this.name = "ApiError";
    this.code = code;
  }
}

export interface Published {
  channel: string;
  id: string;
  subscribers: number;
  duplicate?: boolean;
}
export interface BatchItemResult {
  channel: string;
  id?: string;
  subscribers?: number;
  /** Set when this one item failed (the others may have been published). */
  error?: string;
}
export interface HistoryMessage {
  id: string;
  event?: string;
  data: string;
}
export interface ChannelPresence {
  channel: string;
  connections: number;
  users: number;
  /** presence only: the page of user ids, by name. */
  userIds?: string[];
  /** presence only: the offset of the next page, or null. */
  next?: number | null;
}
export interface UserOnline {
  online: boolean;
  connections: number;
  /** ms since the epoch (Redis's clock), now while online; null: never seen. */
  lastSeen: number | null;
}
export interface GatewayInfo {
  version: string;
  mode: string;
  workers: Array<{ worker: number; pid: number; hubConnected: boolean; channels: number; subscribers: number }>;
}

/** What disconnect and revoke answer: the id of their order in the control stream every gateway reads. */
export interface Order {
  order: string;
}

/** One call of a batch. */
export interface Call {
  method: string;
  params?: Record<string, unknown>;
}
/** One answer of a batch: its result or its error. */
export type CallAnswer = { result: unknown; error?: undefined } | { result?: undefined; error: { code: number; message: string } };

interface RpcAnswer {
  id: number | null;
  result?: unknown;
  error?: { code: number; message: string };
}

export class PushgateApi {
  private nextId = 1;

  constructor(
    private readonly baseUrl: string,
    private readonly options: ApiOptions = {},
  ) {}

  private async post(body: unknown, method: string): Promise<RpcAnswer | RpcAnswer[]> {
    const headers: Record<string, string> = { "Content-Type": "application/json" };
    if (this.options.key !== undefined) {
      headers.Authorization = `Bearer ${this.options.key}`;
    }
    const url = new URL(this.baseUrl);
    url.pathname = `${url.pathname.replace(/\/+$/, "")}/api`;
    let text: string;
    let status: number;
    try {
      const response = await fetch(url, { method: "POST", headers, body: JSON.stringify(body), signal: AbortSignal.timeout(this.options.timeoutMs ?? 10000) });
      status = response.status;
      text = await response.text();
    } catch (e) {
      throw new ApiError(method, 0, ((e as Error).cause as Error | undefined)?.message ?? (e as Error).message);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new ApiError(method, status, text.trim().substring(0, 200));
    }
    const refusal = (parsed as { error?: unknown }).error;
    if (status >= 400 && typeof refusal === "string") {
      // refused before JSON-RPC (401 without the key): {"error":"..."}; the code is the HTTP status
      throw new ApiError(method, status, refusal);
    }
    return parsed as RpcAnswer | RpcAnswer[];
  }

  /** Calls `method` with named `params`; rejects with an ApiError. */
  async call<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    const answer = await this.post({ jsonrpc: "2.0", id, method, params }, method);
    if (Array.isArray(answer) || (answer.error === undefined && answer.result === undefined)) {
      const reason = (answer as unknown as { error?: unknown }).error;
      throw new ApiError(method, 0, typeof reason === "string" ? reason : "unexpected answer");
    }
    if (answer.error !== undefined) {
      throw new ApiError(method, answer.error.code, answer.error.message);
    }
    return answer.result as T;
  }

  /** Several calls in one request; the answers in the calls' order. */
  async batch(calls: Call[]): Promise<CallAnswer[]> {
    const first = this.nextId;
    this.nextId += calls.length;
    const answer = await this.post(
      calls.map((c, i) => ({ jsonrpc: "2.0", id: first + i, method: c.method, params: c.params ?? {} })),
      "batch",
    );
    const list = Array.isArray(answer) ? answer : [answer];
    const byId = new Map(list.map((a) => [a.id, a]));
    return calls.map((_c, i) => {
      const a = byId.get(first + i);
      return a?.error !== undefined ? { error: a.error } : { result: a?.result };
    });
  }

  publish(params: { channel: string; data: string; event?: string; idempotencyKey?: string }): Promise<Published> {
    return this.call("publish", params);
  }
  /** One payload to many channels, one Redis round trip. */
  broadcast(params: { channels: string[]; data: string; event?: string }): Promise<BatchItemResult[]> {
    return this.call("broadcast", params);
  }
  /** Many channel → payload pairs, pipelined (up to 10000 per call). */
  publishMany(params: { items: Array<{ channel: string; data: string; event?: string }> }): Promise<BatchItemResult[]> {
    return this.call("publish_many", params);
  }
  history(params: {
    channel: string;
    since?: string;
    before?: string;
    limit?: number;
    reverse?: boolean;
  }): Promise<{ channel: string; messages: HistoryMessage[] }> {
    return this.call("history", params);
  }
  presence(params: { channel: string; offset?: number; limit?: number }): Promise<ChannelPresence> {
    return this.call("presence", params);
  }
  presenceStats(params: { channel: string }): Promise<ChannelPresence> {
    return this.call("presence_stats", params);
  }
  online(params: { users: string[] }): Promise<Record<string, UserOnline>> {
    return this.call("online", params);
  }
  /** Active channels (a live connection on any gateway) matching `pattern` (a channel, prefix* or *). */
  channels(params: { pattern?: string } = {}): Promise<{ channels: Array<{ channel: string; connections: number; users: number }>; truncated: boolean }> {
    return this.call("channels", params);
  }
  unread(params: { user: string; channels: string[] }): Promise<{ user: string; unread: Record<string, number> }> {
    return this.call("unread", params);
  }
  info(): Promise<GatewayInfo> {
    return this.call("info", {});
  }
  /**
   * Ends every stream of `user` on every gateway, within about a second (asynchronously: the
   * answer names the order, once Redis holds it). The client is told `reason`, and whether it may
   * come back (`reconnect`, default true).
   */
  disconnect(params: { user: string; reason?: string; reconnect?: boolean }): Promise<Order> {
    return this.call("disconnect", params);
  }
  /**
   * Revokes a token by its `jti`, or the tokens of `user` issued before `before` (seconds since the
   * epoch): refused at connect on every gateway, and their open streams end within about a second.
   */
  revoke(params: { jti: string } | { user: string; before: number }): Promise<Order> {
    return this.call("revoke", params);
  }
}
