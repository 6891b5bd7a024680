// Publishing over HTTP: POST /pub?channel=<channel> with the message as the body, as any backend
// can with curl. The gateway answers {"channel":"...","subscribers":N}, or {"error":"..."} with
// a 4xx/5xx status, which becomes a PublishError.

import { CHANNEL_RULE, isValidChannel } from "../src/protocol/channel";

export interface PublishHttpOptions {
  /**
   * The publisher credential, sent as `Authorization: Bearer <token>`: a token minted with a
   * `publish` grant, or the gateway's publisher key.
   */
  token?: string;
  /** Time allowed for the whole request, in milliseconds (default 10000). */
  timeoutMs?: number;
}

/** The gateway's answer to a publish. */
export interface PublishAnswer {
  channel: string;
  /** How many Redis subscriptions received the message. */
  subscribers: number;
  /** The message id (durable publishing): where a client resumes after it. */
  id: string;
  /** True when the Idempotency-Key had been seen: stored and sent once. */
  duplicate?: boolean;
}

/** A publish the gateway refused or could not take. */
export class PublishError extends Error {
  /** The HTTP status; 0 when no answer came (connection refused, timeout). */
  readonly status: number;
  /** The gateway's reason (its {"error": ...}), or what went wrong on the way. */
  readonly reason: string;
  /** Seconds to wait before trying again, when the gateway said so (503 with Retry-After). */
  readonly retryAfterSeconds: number | undefined;

  constructor(channel: string, status: number, reason: string, retryAfterSeconds?: number) {
    super(`failed to publish to ${channel}: ${status > 0 ? `${status} ` : ""}${reason}`);
    this.name = "PublishError";
    this.status = status;
    this.reason = reason;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

const DEFAULT_TIMEOUT_MS = 10000;

/** The publish URL under `baseUrl` (which may carry a path prefix), channel in the query. */
export function publishUrl(baseUrl: string, channel: string): string {
  const url = new URL(baseUrl);
  url.pathname = `${url.pathname.replace(/\/+$/, "")}/pub`;
  url.search = "";
  url.searchParams.set("channel", channel);
  return url.toString();
}

/** The reason in an error answer: its {"error": "..."}, else the start of the body. */
function reasonOf(body: string, status: number): string {
  try {
    const parsed = JSON.parse(body) as { error?: unknown };
    if (typeof parsed.error === "string") {
      return parsed.error;
    }
  } catch {
    // not JSON: fall through
  }
  const text = body.trim();
  return text.length > 0 ? text.substring(0, 200) : `http status ${status}`;
}

function retryAfterOf(header: string | null): number | undefined {
  if (header === null || !/^\d+$/.test(header.trim())) {
    return undefined;
  }
  return Number(header.trim());
}

/**
 * Publishes `data` to `channel` through the gateway at `baseUrl` (e.g. http://127.0.0.1:8080).
 * Resolves to the gateway's answer; rejects with a PublishError on a 4xx/5xx answer or no
 * answer, and with a TypeError on an invalid channel name (checked before any request).
 */
export async function publishHttp(baseUrl: string, channel: string, data: string | Uint8Array, options: PublishHttpOptions = {}): Promise<PublishAnswer> {
  if (!isValidChannel(channel)) {
    throw new TypeError(`invalid channel name: a name is ${CHANNEL_RULE}`);
  }
  const headers: Record<string, string> = {
    "Content-Type": typeof data === "string" ? "text/plain; charset=utf-8" : "application/octet-stream",
  };
  if (options.token !== undefined) {
    headers.Authorization = `Bearer ${options.token}`;
  }
  let response: Response;
  let body: string;
  try {
    response = await fetch(publishUrl(baseUrl, channel), {
      method: "POST",
      headers,
      body: data,
      signal: AbortSignal.timeout(options.timeoutMs ?? DEFAULT_TIMEOUT_MS),
    });
    body = await response.text();
  } catch (e) {
    const cause = (e as Error).cause as Error | undefined;
    throw new PublishError(channel, 0, cause?.message ?? (e as Error).message);
  }
  if (!response.ok) {
    throw new PublishError(channel, response.status, reasonOf(body, response.status), retryAfterOf(response.headers.get("retry-after")));
  }
  let answer: Partial<PublishAnswer>;
  try {
    answer = JSON.parse(body) as Partial<PublishAnswer>;
  } catch {
    throw new PublishError(channel, response.status, "the gateway's answer is not JSON");
  }
  if (typeof answer !== "object" || answer === null || typeof answer.channel !== "string" || typeof answer.subscribers !== "number") {
    throw new PublishError(channel, response.status, "the gateway's answer has no channel and subscribers");
  }
  return answer as PublishAnswer;
}
