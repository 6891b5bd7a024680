// Reconnect delays: exponential backoff with jitter, so clients dropped together (a gateway
// reload, a Redis restart) do not come back together.

/**
 * The delay before reconnect number `attempt` (0 first): between half and all of
 * min(maxMs, initialMs * 2^attempt).
 */
export function backoffDelay(attempt: number, initialMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** A delay the gateway asked for (Retry-After), plus up to a fifth of it as jitter. */
export function retryAfterDelay(retryAfterMs: number, random: () => number = Math.random): number {
  return Math.round(retryAfterMs + random() * (retryAfterMs / 5));
}
