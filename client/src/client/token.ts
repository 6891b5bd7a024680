// When a token expires: the `exp` claim of a JWT's payload, read without checking the signature
// (the gateway checks it; the client only needs to know when to ask for a new one).

/** The expiry of `token` in milliseconds since the epoch, or undefined when it has none. */
export function tokenExpiry(token: string): number | undefined {
  const parts = token.split(".");
  if (parts.length !== 3) {
    return undefined;
  }
  try {
    const base64 = parts[1].replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "===".substring(0, (4 - (base64.length % 4)) % 4);
    const claims = JSON.parse(atob(padded)) as { exp?: unknown };
    return typeof claims.exp === "number" && Number.isFinite(claims.exp) ? claims.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * When to ask for the next token: `marginMs` before it expires, or halfway through its life when
 * that is shorter, so a short-lived token is not refreshed in a loop.
 */
export function refreshTime(expiresAt: number, obtainedAt: number, marginMs: number): number {
  return expiresAt - Math.min(marginMs, Math.max(0, (expiresAt - obtainedAt) / 2));
}
