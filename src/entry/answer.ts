// How the entries answer a failure the core returned: its HTTP status and headers.

import type { Settings } from "../config/schema";
import { fail, requestHeader } from "../host/http";
import * as metrics from "../host/metrics";
import type { Failure, FailureKind } from "../protocol/failure";

const STATUS: Record<FailureKind, number> = {
  invalid: 400,
  unauthorized: 401,
  forbidden: 403,
  "too-large": 413,
  limited: 429,
  unavailable: 503,
  internal: 500,
};

/**
 * A subscribe request (GET) carries no body: one that does is refused (400). Left unread, a body
 * would hide the client's close from the stream until a write failed; discarding it would too
 * (nginx's discard handler takes the connection's reads).
 */
export function refuseBody(): void {
  const length = requestHeader("content-length");
  if ((length !== undefined && length !== "0") || requestHeader("transfer-encoding") !== undefined) {
    fail(400, "a subscribe request carries no body: send GET without one");
  }
}

/** Answers `failure` and ends the request. */
export function failWith(settings: Settings, failure: Failure): never {
  metrics.refused(failure.kind);
  if (failure.kind === "unauthorized") {
    ngx.header.set("WWW-Authenticate", 'Bearer realm="pushgate"');
  }
  if (failure.kind === "limited") {
    ngx.header.set("Retry-After", `${failure.retryAfterSeconds ?? 1}`);
  }
  return fail(STATUS[failure.kind], failure.message, failure.kind === "unavailable" ? settings.retryAfterSeconds : undefined);
}
