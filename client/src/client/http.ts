// The HTTP calls beside the streams: POST /pub, POST /ack, and the probe that tells why a stream
// could not open (a browser's EventSource and WebSocket do not show the status of a refusal).

import { PushgateError } from "./errors.js";
import type { FetchFunction } from "./transport.js";

export interface HttpContext {
  base: string;
  token: string | undefined;
  user: string | undefined;
  fetch: FetchFunction;
  timeoutMs: number;
}

export interface PublishOptions {
  /** The event name (`?event=`): 1-64 of A-Z a-z 0-9 _ - . : */
  event?: string;
  /** A retried publish with the same key is stored once (answer `duplicate: true`). */
  idempotencyKey?: string;
}

/** The gateway's answer to a publish. */
export interface PublishResult {
  channel: string;
  /** The message id: where a subscriber resumes after it. */
  id: string;
  /** How many Redis subscriptions received it. */
  subscribers: number;
  duplicate?: boolean;
}

/** The user's read position on a channel after an ack. */
export interface AckResult {
  channel: string;
  read: string;
}

/** Retry-After (seconds or an HTTP date) in milliseconds; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null): number | undefined {
  if (header === null || header.trim().length === 0) {
    return undefined;
  }
  const seconds = Number(header);
  if (Number.isFinite(seconds)) {
    return Math.max(0, seconds * 1000);
  }
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

function headersOf(context: HttpContext, extra: Record<string, string> = {}): Record<string, string> {
  return context.token !== undefined ? { Authorization: `Bearer ${context.token}`, ...extra } : extra;
}

/** One request with a time limit; the answer's status, Retry-After and parsed JSON body. */
async function call(
  context: HttpContext,
  what: string,
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string },
): Promise<{ status: number; retryAfterMs: number | undefined; body: Record<string, unknown> }> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), context.timeoutMs);
  try {
    const answer = await context.fetch(url, { ...init, signal: controller.signal });
    const text = await answer.text();
    let body: Record<string, unknown> = {};
    try {
      const parsed = JSON.parse(text) as unknown;
      if (typeof parsed === "object" && parsed !== null) {
        body = parsed as Record<string, unknown>;
      }
    } catch {
      body = { error: text.substring(0, 200) };
    }
    return { status: answer.status, retryAfterMs: retryAfterMs(answer.headers.get("retry-after")), body };
  } catch (e) {
    const reason = controller.signal.aborted ? `no answer within ${context.timeoutMs} ms` : e instanceof Error ? e.message : String(e);
    throw new PushgateError(`failed to ${what}: ${reason}`);
  } finally {
    clearTimeout(timer);
  }
}

function refusal(what: string, answer: { status: number; retryAfterMs: number | undefined; body: Record<string, unknown> }): PushgateError {
  const reason = typeof answer.body.error === "string" ? answer.body.error : `status ${answer.status}`;
  return new PushgateError(`failed to ${what}: ${reason}`, { status: answer.status, retryAfterMs: answer.retryAfterMs });
}

/** POST /pub?channel=…: publishes `data` durably. */
export async function publishHttp(context: HttpContext, channel: string, data: string, options: PublishOptions = {}): Promise<PublishResult> {
  const query = new URLSearchParams({ channel });
  if (options.event !== undefined) {
    query.set("event", options.event);
  }
  const extra: Record<string, string> = { "Content-Type": "text/plain; charset=utf-8" };
  if (options.idempotencyKey !== undefined) {
    extra["Idempotency-Key"] = options.idempotencyKey;
  }
  const what = `publish to ${channel}`;
  const answer = await call(context, what, `${context.base}/pub?${query}`, { method: "POST", headers: headersOf(context, extra), body: data });
  if (answer.status !== 200 || typeof answer.body.id !== "string") {
    throw refusal(what, answer);
  }
  return answer.body as unknown as PublishResult;
}

/** POST /ack?channel=…&id=…: moves the user's read position on `channel` to `id`. */
export async function ackHttp(context: HttpContext, channel: string, id: string): Promise<AckResult> {
  const query = new URLSearchParams({ channel, id });
  if (context.user !== undefined) {
    query.set("user", context.user);
  }
  const what = `ack ${channel} ${id}`;
  const answer = await call(context, what, `${context.base}/ack?${query}`, { method: "POST", headers: headersOf(context) });
  if (answer.status !== 200 || typeof answer.body.read !== "string") {
    throw refusal(what, answer);
  }
  return answer.body as unknown as AckResult;
}

/** What a probe learnt: the gateway's status for these channels and token, or no answer. */
export interface ProbeResult {
  status: number | undefined;
  reason: string;
  retryAfterMs: number | undefined;
}

/**
 * Asks the gateway, with one long-poll that returns at once (`timeout=0`), whether it would take
 * a stream of `channels` with this token: 200 means the stream's own transport is what failed
 * (e.g. a proxy that refuses upgrades); 4xx, 429 and 503 say why it was refused.
 */
export async function probe(context: HttpContext, channels: readonly string[]): Promise<ProbeResult> {
  const query = new URLSearchParams({ key: channels.join(","), timeout: "0" });
  if (context.user !== undefined) {
    query.set("user", context.user);
  }
  try {
    const answer = await call(context, "reach the gateway", `${context.base}/lp?${query}`, { method: "GET", headers: headersOf(context) });
    const reason = typeof answer.body.error === "string" ? answer.body.error : `status ${answer.status}`;
    return { status: answer.status, reason, retryAfterMs: answer.retryAfterMs };
  } catch (e) {
    return { status: undefined, reason: e instanceof Error ? e.message : String(e), retryAfterMs: undefined };
  }
}
