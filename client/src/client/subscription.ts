// A subscription: one logical stream of messages over whichever transport works, kept alive
// across drops. It keeps the cursor of every channel and resumes from it, delivers each durable
// id once and in order per channel, reconnects with backoff and jitter (or after Retry-After),
// refreshes the token before it expires, and in `auto` falls back from WebSocket to Server-Sent
// Events to long-poll when a transport cannot connect while the gateway answers.

import { backoffDelay, retryAfterDelay } from "./backoff.js";
import { Emitter } from "./emitter.js";
import { messageOf, PushgateError } from "./errors.js";
import { AckResult, ackHttp, HttpContext, probe, publishHttp, PublishOptions, PublishResult } from "./http.js";
import { advance, formatCursor, isValidId, parseCursor } from "./ids.js";
import { openLongPoll } from "./longpoll.js";
import { openEventSource } from "./sse.js";
import { refreshTime, tokenExpiry } from "./token.js";
import type {
  Connection,
  ConnectionEvents,
  Ending,
  EventSourceConstructor,
  FetchFunction,
  Opener,
  TransportName,
  WebSocketConstructor,
  WireMessage,
} from "./transport.js";
import { openWebSocket } from "./websocket.js";

export type State = "connecting" | "open" | "reconnecting" | "closed";

export interface Message {
  channel: string;
  /** The durable id ("<ms>-<seq>"); undefined for a plain Redis PUBLISH, which has none. */
  id: string | undefined;
  data: string;
  /** The event name it was published with, if any. */
  event: string | undefined;
}

export interface Notice {
  /**
   * From the gateway: `gap` (the cursor is older than the kept history), `redis-lost`,
   * `redis-restored`, `dropped`. From the client: `recovered` (reconnected and resumed from the
   * cursor), `fallback` (auto mode moved to another transport), `revoked` (a new token no longer
   * grants `channel`: the subscription drops it).
   */
  notice: string;
  message: string;
  /** The channel the notice is about, when it names one. */
  channel?: string;
}

export interface SubscriptionEvents {
  message: Message;
  notice: Notice;
  state: State;
  error: PushgateError;
}

export interface SubscribeOptions {
  /** The gateway's HTTP(S) base URL; in a browser, the page's origin by default. */
  url?: string;
  /** "auto" (default): WebSocket, else Server-Sent Events, else long-poll. */
  transport?: "auto" | TransportName;
  /** The token (JWT) to send; with getToken, the first one (getToken is called when it is missing or expiring). */
  token?: string;
  /** Returns a fresh token: called before the current one expires (from its `exp`), and after a refusal for an expired token. */
  getToken?: () => string | Promise<string>;
  /** Where to start: a message id, "oldest", "a=<id>,b=<id>", or { channel: id }. Default: live only. */
  since?: string | Record<string, string>;
  /** `?user=` for the read state while the gateway runs without tokens. */
  user?: string;
  /** The WebSocket URL (default: the `url` with ws:/wss: and /ws). */
  wsUrl?: string;
  /** The WebSocket class; the global one by default (Node: `import WebSocket from "ws"`). */
  WebSocket?: WebSocketConstructor;
  /** The EventSource class; the global one by default (Node: `import { EventSource } from "eventsource"`). */
  EventSource?: EventSourceConstructor;
  /** fetch for long-poll, publish and ack; the global one by default. */
  fetch?: FetchFunction;
  /** First reconnect delay, doubled per failed attempt up to `maxReconnectMs` (jittered). Default 1000. */
  reconnectMs?: number;
  /** Default 15000. */
  maxReconnectMs?: number;
  /** A transport that has not opened by then counts as failed. Default 10000. */
  connectTimeoutMs?: number;
  /** How long a long-poll waits for messages. Default 30. */
  longPollSeconds?: number;
  /** Ask for a new token this long before the current one expires (at most half its life). Default 30. */
  refreshSeconds?: number;
  /** Time allowed for publish, ack and a WebSocket frame's answer. Default 10000. */
  requestTimeoutMs?: number;
}

const OPENERS: Record<TransportName, Opener> = { ws: openWebSocket, sse: openEventSource, longpoll: openLongPoll };
const AUTO_ORDER: TransportName[] = ["ws", "sse", "longpoll"];
/** A connection that stayed open this long resets the backoff. */
const STABLE_MS = 5000;
/** A channel with nothing delivered resumes from the first connection's time, less this (clocks differ). */
const CLOCK_MARGIN_MS = 2000;
/** Refusals of a fresh token in a row before the subscription gives up. */
const MAX_UNAUTHORIZED = 3;

interface Pending {
  resolve(frame: Record<string, unknown>): void;
  reject(error: PushgateError): void;
  timer: ReturnType<typeof setTimeout>;
}

interface GlobalScope {
  WebSocket?: WebSocketConstructor;
  EventSource?: EventSourceConstructor;
  fetch?: FetchFunction;
  location?: { origin: string };
  navigator?: { onLine?: boolean };
  addEventListener?: (type: string, listener: () => void) => void;
  removeEventListener?: (type: string, listener: () => void) => void;
}

export class Subscription {
  private channelList: readonly string[];
  private readonly emitter = new Emitter<SubscriptionEvents>();
  private readonly options: SubscribeOptions;
  private readonly base: string;
  private readonly wsUrl: string;
  private readonly order: TransportName[];
  private readonly auto: boolean;
  private readonly constructors: {
    WebSocket: WebSocketConstructor | undefined;
    EventSource: EventSourceConstructor | undefined;
    fetch: FetchFunction | undefined;
  };
  /** Per channel, the newest id delivered: never deliver one at or below it. */
  private readonly delivered = new Map<string, string>();
  /** Per channel, where to resume: what was delivered, or a position the gateway handed out. */
  private readonly resumeFrom = new Map<string, string>();
  private readonly pending = new Map<string, Pending>();
  private nextRef = 1;
  private currentState: State = "connecting";
  private transportIndex = 0;
  private attempt = 0;
  private unauthorized = 0;
  private generation = 0;
  private connection: Connection | undefined;
  private openedAt = 0;
  private everOpened = false;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private token: string | undefined;
  private tokenObtainedAt = 0;
  private tokenExpiresAt: number | undefined;
  private readonly onOnline = (): void => this.online();
  private readonly onOffline = (): void => this.offline();

  /** The channels subscribed to (a `revoked` notice takes one away). */
  get channels(): readonly string[] {
    return this.channelList;
  }

  constructor(channels: string | readonly string[], options: SubscribeOptions = {}) {
    const scope = globalThis as GlobalScope;
    const names = typeof channels === "string" ? channels.split(",") : [...channels];
    this.channelList = names.filter((name, i) => name.length > 0 && names.indexOf(name) === i);
    if (this.channels.length === 0) {
      throw new TypeError("subscribe: give at least one channel");
    }
    this.options = options;
    const url = options.url ?? scope.location?.origin;
    if (url === undefined) {
      throw new TypeError("subscribe: the url option is required outside a browser page");
    }
    this.base = url.replace(/\/+$/, "");
    this.wsUrl = options.wsUrl ?? `${this.base.replace(/^http/, "ws")}/ws`;
    this.constructors = {
      WebSocket: options.WebSocket ?? scope.WebSocket,
      EventSource: options.EventSource ?? scope.EventSource,
      fetch: options.fetch ?? (scope.fetch !== undefined ? scope.fetch.bind(globalThis) : undefined),
    };
    const transport = options.transport ?? "auto";
    this.auto = transport === "auto";
    this.order = transport === "auto" ? AUTO_ORDER.filter((name) => this.available(name)) : [transport];
    if (!this.available(this.order[0])) {
      throw new TypeError(`subscribe: no ${this.order[0] ?? "transport"} available here: pass the WebSocket, EventSource or fetch option`);
    }
    this.token = options.token;
    if (this.token !== undefined) {
      this.tokenObtainedAt = Date.now();
      this.tokenExpiresAt = tokenExpiry(this.token);
    }
    if (options.since !== undefined) {
      const positions = typeof options.since === "string" ? parseCursor(options.since, this.channels) : new Map(Object.entries(options.since));
      if (positions === undefined || [...positions.values()].some((id) => !isValidId(id))) {
        throw new TypeError(`subscribe: invalid since: use a message id, "oldest", "channel=id,channel=id" or { channel: id }`);
      }
      for (const [channel, id] of positions) {
        if (this.channels.includes(channel)) {
          this.delivered.set(channel, id);
          this.resumeFrom.set(channel, id);
        }
      }
    }
    scope.addEventListener?.("online", this.onOnline);
    scope.addEventListener?.("offline", this.onOffline);
    // Connect on a later task: listeners attached right after subscribe() see every event.
    this.retryTimer = setTimeout(() => void this.connect(), 0);
  }

  /** Calls `listener` with each `event`; returns the function that stops it. */
  on<K extends keyof SubscriptionEvents>(event: K, listener: (value: SubscriptionEvents[K]) => void): () => void {
    return this.emitter.on(event, listener);
  }

  get state(): State {
    return this.currentState;
  }

  /** The transport in use (or being tried). */
  get transport(): TransportName {
    return this.order[this.transportIndex];
  }

  /** Where this subscription would resume now ("a=<id>,b=<id>"; "" before any position): keep it to resume later with `since`. */
  get cursor(): string {
    return formatCursor(this.channels, this.resumeFrom);
  }

  /** Stops for good: closes the connection, state `closed`. */
  close(): void {
    if (this.currentState === "closed") {
      return;
    }
    this.stop();
    this.setState("closed");
    this.emitter.clear();
  }

  /** Publishes durably: a WebSocket frame on an open WebSocket, else POST /pub. */
  async publish(channel: string, data: string, options: PublishOptions = {}): Promise<PublishResult> {
    const frame: Record<string, unknown> = { type: "publish", channel, data };
    if (options.event !== undefined) {
      frame.event = options.event;
    }
    if (options.idempotencyKey !== undefined) {
      frame.idempotencyKey = options.idempotencyKey;
    }
    const answer = await this.request(frame, `publish to ${channel}`);
    if (answer !== undefined) {
      return {
        channel: String(answer.channel),
        id: String(answer.id),
        subscribers: Number(answer.subscribers),
        duplicate: answer.duplicate === true || undefined,
      };
    }
    return publishHttp(await this.httpContext(), channel, data, options);
  }

  /** Moves the user's read position on `channel` to `id`: a WebSocket frame, else POST /ack. */
  async ack(channel: string, id: string): Promise<AckResult> {
    const answer = await this.request({ type: "ack", channel, id }, `ack ${channel} ${id}`);
    if (answer !== undefined) {
      return { channel: String(answer.channel), read: String(answer.read) };
    }
    return ackHttp(await this.httpContext(), channel, id);
  }

  // --- connecting ---------------------------------------------------------------------------

  private available(name: TransportName | undefined): boolean {
    return (
      (name === "ws" && this.constructors.WebSocket !== undefined) ||
      (name === "sse" && this.constructors.EventSource !== undefined) ||
      (name === "longpoll" && this.constructors.fetch !== undefined)
    );
  }

  private async connect(): Promise<void> {
    this.retryTimer = undefined;
    const generation = ++this.generation;
    try {
      await this.ensureToken(false);
    } catch (e) {
      if (generation === this.generation && this.currentState !== "closed") {
        this.emitter.emit("error", new PushgateError(`failed to get a token: ${messageOf(e)}`));
        this.retry(undefined);
      }
      return;
    }
    if (generation !== this.generation || this.currentState === "closed") {
      return;
    }
    const current = (): boolean => generation === this.generation && this.currentState !== "closed";
    const events: ConnectionEvents = {
      open: () => {
        if (current()) this.opened();
      },
      message: (message) => {
        if (current()) this.received(message);
      },
      notice: (notice, message, channel) => {
        if (current()) this.noticed(notice, message, channel);
      },
      cursor: (cursor) => {
        if (current()) this.learnCursor(cursor);
      },
      reply: (frame) => {
        if (current()) this.reply(frame);
      },
      end: (ending) => {
        if (current()) void this.ended(ending);
      },
    };
    this.connection = OPENERS[this.transport](
      {
        base: this.base,
        wsUrl: this.wsUrl,
        channels: this.channels,
        cursor: () => this.cursor,
        token: this.token,
        user: this.options.user,
        connectTimeoutMs: this.options.connectTimeoutMs ?? 10000,
        longPollSeconds: this.options.longPollSeconds ?? 30,
        ...this.constructors,
      },
      events,
    );
  }

  private opened(): void {
    this.openedAt = Date.now();
    this.unauthorized = 0;
    if (!this.everOpened) {
      // A channel with nothing delivered yet comes back from about now, not from live: what is
      // published while the connection is down is not lost.
      const from = `${Math.max(0, Date.now() - CLOCK_MARGIN_MS)}-0`;
      for (const channel of this.channels) {
        if (!this.resumeFrom.has(channel)) {
          this.resumeFrom.set(channel, from);
        }
      }
    } else {
      this.emitter.emit("notice", { notice: "recovered", message: `reconnected over ${this.transport}, resumed from the cursor` });
    }
    this.everOpened = true;
    this.setState("open");
    this.scheduleRefresh();
  }

  private received(message: WireMessage): void {
    if (!this.channels.includes(message.channel)) {
      return;
    }
    if (message.id !== undefined) {
      // The safety net: an id at or below the last delivered one of its channel is a repeat.
      if (!isValidId(message.id) || !advance(this.delivered, message.channel, message.id)) {
        return;
      }
      advance(this.resumeFrom, message.channel, message.id);
    }
    if (message.cursor !== undefined) {
      this.learnCursor(message.cursor);
    }
    this.emitter.emit("message", { channel: message.channel, id: message.id, data: message.data, event: message.event });
  }

  private noticed(notice: string, message: string, channel?: string): void {
    if (notice === "revoked" && channel !== undefined) {
      // The gateway unsubscribed it: a reconnect must not ask for it again (that would be a 403).
      this.channelList = this.channelList.filter((name) => name !== channel);
      this.emitter.emit("notice", { notice, message, channel });
      return;
    }
    this.emitter.emit("notice", { notice, message });
    if (notice === "redis-restored" || notice === "dropped") {
      // The stream stayed open, but what was published while the gateway could not hear Redis
      // (or what it dropped for a slow reader) is only in the history: come back from the cursor.
      this.reconnectNow();
    }
  }

  /** Takes the positions of a cursor the gateway handed out where they are further on. */
  private learnCursor(cursor: string): void {
    const positions = parseCursor(cursor, this.channels);
    for (const [channel, id] of positions ?? []) {
      advance(this.resumeFrom, channel, id);
    }
  }

  private reply(frame: Record<string, unknown>): void {
    const ref = typeof frame.ref === "string" ? frame.ref : undefined;
    const pending = ref !== undefined ? this.pending.get(ref) : undefined;
    if (pending !== undefined && ref !== undefined) {
      this.pending.delete(ref);
      clearTimeout(pending.timer);
      if (frame.type === "error") {
        pending.reject(new PushgateError(String(frame.error)));
      } else {
        pending.resolve(frame);
      }
    } else if (frame.type === "error") {
      this.emitter.emit("error", new PushgateError(`the gateway refused a frame: ${String(frame.error)}`));
    }
  }

  private async ended(ending: Ending): Promise<void> {
    this.connection = undefined;
    this.rejectPending("the connection ended before the answer");
    const generation = this.generation;
    const stable = ending.opened && Date.now() - this.openedAt >= STABLE_MS;
    if (stable) {
      this.attempt = 0;
    }
    if (ending.status !== undefined) {
      this.refused(ending.status, ending.reason, ending.retryAfterMs);
      return;
    }
    if (!ending.reconnect) {
      if (ending.reason === "token expired" && this.options.getToken !== undefined) {
        this.tokenExpiresAt = 0; // ask for a new one before connecting
        this.retry(0);
      } else {
        this.fail(new PushgateError(ending.reason, { fatal: true }));
      }
      return;
    }
    if (!ending.opened && this.transport !== "longpoll" && this.constructors.fetch !== undefined) {
      // A browser does not show why a WebSocket or EventSource was refused: ask the gateway.
      const answer = await probe(await this.httpContext(), this.channels);
      if (generation !== this.generation || this.currentState === "closed") {
        return;
      }
      if (answer.status !== undefined) {
        this.refused(answer.status, `${ending.reason} (${answer.reason})`, answer.retryAfterMs);
        return;
      }
    }
    this.retry(undefined);
  }

  /** After an answer with `status`: give up, wait as asked, or (2xx) try the next transport. */
  private refused(status: number, reason: string, retryAfterMs: number | undefined): void {
    if (status === 401 && this.options.getToken !== undefined && ++this.unauthorized <= MAX_UNAUTHORIZED) {
      this.tokenExpiresAt = 0;
      this.retry(undefined);
    } else if (status === 429 || status >= 500) {
      this.retry(retryAfterMs !== undefined ? retryAfterDelay(retryAfterMs) : undefined);
    } else if (status >= 400) {
      this.fail(new PushgateError(reason, { status, fatal: true }));
    } else if (this.auto && this.transportIndex < this.order.length - 1) {
      // The gateway answers, the transport does not connect (a proxy that refuses upgrades...).
      const from = this.transport;
      this.transportIndex += 1;
      this.attempt = 0;
      this.emitter.emit("notice", { notice: "fallback", message: `${from} does not connect (${reason}): trying ${this.transport}` });
      this.retry(0);
    } else {
      this.retry(undefined);
    }
  }

  /** Connects again after `delayMs` (default: the next backoff step). */
  private retry(delayMs: number | undefined): void {
    if (this.currentState === "closed") {
      return;
    }
    if (this.everOpened) {
      this.setState("reconnecting");
    }
    const delay = delayMs ?? backoffDelay(this.attempt++, this.options.reconnectMs ?? 1000, this.options.maxReconnectMs ?? 15000);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.connect(), delay);
  }

  /** Drops the connection and connects again at once (a new token; back online). */
  private reconnectNow(): void {
    this.generation += 1;
    this.connection?.close();
    this.connection = undefined;
    this.rejectPending("the connection was replaced before the answer");
    this.retry(0);
  }

  private fail(error: PushgateError): void {
    this.stop();
    this.setState("closed");
    this.emitter.emit("error", error);
    this.emitter.clear();
  }

  private stop(): void {
    this.generation += 1;
    clearTimeout(this.retryTimer);
    clearTimeout(this.refreshTimer);
    this.connection?.close();
    this.connection = undefined;
    this.rejectPending("the subscription was closed");
    const scope = globalThis as GlobalScope;
    scope.removeEventListener?.("online", this.onOnline);
    scope.removeEventListener?.("offline", this.onOffline);
  }

  private setState(state: State): void {
    if (this.currentState !== state) {
      this.currentState = state;
      this.emitter.emit("state", state);
    }
  }

  private online(): void {
    if (this.currentState !== "closed" && this.connection === undefined) {
      this.attempt = 0;
      this.retry(0);
    }
  }

  private offline(): void {
    if (this.currentState !== "closed" && this.connection !== undefined) {
      this.generation += 1;
      this.connection.close();
      this.connection = undefined;
      this.rejectPending("the connection went offline before the answer");
      this.retry(undefined); // tries fail while offline; "online" reconnects at once
    }
  }

  // --- tokens -------------------------------------------------------------------------------

  private refreshDue(): number | undefined {
    const margin = (this.options.refreshSeconds ?? 30) * 1000;
    return this.tokenExpiresAt === undefined ? undefined : refreshTime(this.tokenExpiresAt, this.tokenObtainedAt, margin);
  }

  /** Gets a token from getToken when there is none, or it is due for refresh, or `force`. */
  private async ensureToken(force: boolean): Promise<void> {
    const getToken = this.options.getToken;
    if (getToken === undefined) {
      return;
    }
    const due = this.refreshDue();
    if (!force && this.token !== undefined && (due === undefined || Date.now() < due)) {
      return;
    }
    const token = await getToken();
    if (typeof token !== "string" || token.length === 0) {
      throw new PushgateError("getToken gave no token");
    }
    this.token = token;
    this.tokenObtainedAt = Date.now();
    this.tokenExpiresAt = tokenExpiry(token);
  }

  /** At the refresh time of the current token: a new one, handed to the live connection or reconnecting with it. */
  private scheduleRefresh(): void {
    clearTimeout(this.refreshTimer);
    const due = this.refreshDue();
    if (this.options.getToken === undefined || due === undefined) {
      return;
    }
    const delay = Math.min(Math.max(0, due - Date.now()), 2 ** 31 - 1);
    this.refreshTimer = setTimeout(() => void this.refresh(), delay);
  }

  private async refresh(): Promise<void> {
    try {
      await this.ensureToken(true);
    } catch (e) {
      if (this.currentState !== "closed") {
        this.emitter.emit("error", new PushgateError(`failed to refresh the token: ${messageOf(e)}`));
        this.refreshTimer = setTimeout(() => void this.refresh(), backoffDelay(1, this.options.reconnectMs ?? 1000, 5000));
      }
      return;
    }
    if (this.currentState === "closed") {
      return;
    }
    if (this.connection !== undefined && this.token !== undefined && this.connection.refreshToken(this.token)) {
      this.scheduleRefresh();
    } else if (this.connection !== undefined) {
      this.reconnectNow(); // the new connection carries the token and the cursor
    }
  }

  // --- requests -----------------------------------------------------------------------------

  private async httpContext(): Promise<HttpContext> {
    const fetchFunction = this.constructors.fetch;
    if (fetchFunction === undefined) {
      throw new PushgateError("no fetch: pass the fetch option");
    }
    await this.ensureToken(false).catch(() => undefined);
    return { base: this.base, token: this.token, user: this.options.user, fetch: fetchFunction, timeoutMs: this.options.requestTimeoutMs ?? 10000 };
  }

  /** Sends `frame` on the open WebSocket and waits for its answer; undefined when there is no WebSocket to send it on. */
  private request(frame: Record<string, unknown>, what: string): Promise<Record<string, unknown> | undefined> {
    if (this.currentState === "closed") {
      return Promise.reject(new PushgateError(`failed to ${what}: the subscription is closed`));
    }
    const ref = `r${this.nextRef++}`;
    if (this.transport !== "ws" || this.connection === undefined || !this.connection.send({ ...frame, ref })) {
      return Promise.resolve(undefined);
    }
    return new Promise((resolve, reject) => {
      const timeoutMs = this.options.requestTimeoutMs ?? 10000;
      const timer = setTimeout(() => {
        this.pending.delete(ref);
        reject(new PushgateError(`failed to ${what}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(ref, {
        resolve,
        reject: (error) => reject(new PushgateError(`failed to ${what}: ${error.message}`, { status: error.status })),
        timer,
      });
    });
  }

  private rejectPending(reason: string): void {
    for (const [ref, pending] of this.pending) {
      this.pending.delete(ref);
      clearTimeout(pending.timer);
      pending.reject(new PushgateError(reason));
    }
  }
}
