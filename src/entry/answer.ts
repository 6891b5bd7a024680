// How the entries answer a failure the core returned: its HTTP status and headers.

import type { Settings } from "../config/schema";
import { fail } from "../host/http";
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

/** Answers `failure` and ends the request. */
export function failWith(settings: Settings, failure: Failure): never {
  metrics.refused(failure.kind);
  if (failure.kind === "unauthorized") {
    ngx.header.set("WWW-Authenticate", 'Bearer realm="pushgate"');
  }
  if (failure.kind === "limited") {
    ngx.header.set("Retry-After", "1");
  }
  return fail(STATUS[failure.kind], failure.message, failure.kind === "unavailable" ? settings.retryAfterSeconds : undefined);
}
