// Why a request cannot be served, as a value: the stream core, the policy and the store say what
// went wrong in these words, and only the entries (src/entry/) turn them into HTTP statuses.

/**
 * - invalid: the request must change (a bad channel, cursor, id, size)
 * - unauthorized: no credential, or one that does not verify
 * - forbidden: a valid credential that does not grant this
 * - too-large: a message over the size limit
 * - limited: over a rate or connection limit; try again later
 * - unavailable: Redis cannot be reached; try again later
 * - internal: a fault of the gateway
 */
export type FailureKind = "invalid" | "unauthorized" | "forbidden" | "too-large" | "limited" | "unavailable" | "internal";

export interface Failure {
  kind: FailureKind;
  message: string;
  /** limited: seconds until a retry may pass (Retry-After); 1 when not given. */
  retryAfterSeconds?: number;
}

/** What a client is told while Redis cannot be reached. */
export const UNAVAILABLE_MESSAGE = "redis is unavailable, try again later";

export const UNAVAILABLE: Readonly<Failure> = { kind: "unavailable", message: UNAVAILABLE_MESSAGE };

export function failure(kind: FailureKind, message: string): Failure {
  return { kind, message };
}
