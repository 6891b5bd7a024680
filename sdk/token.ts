// Minting grants: standard compact HS256 JWTs that the gateway (src/auth/jwt.ts) accepts, and
// that any JWT library can read. Channel patterns are checked with the gateway's own rules
// (src/auth/grant.ts), so a token the SDK mints is never refused for its shape.

import "../src/cli/multi";
import { encodeBase64Url } from "../src/auth/base64url";
import { validatePatterns } from "../src/auth/grant";
import { hmacSha256, utf8ToBytes } from "./host";

/** HS256 needs a key at least as long as its hash (RFC 7518, section 3.2). */
export const MIN_SECRET_BYTES = 32;

export interface TokenGrant {
  /** The user: selects the user's inbox and presence identity. */
  sub: string;
  /** Channels the holder may subscribe to: names (`user:42`), prefixes (`room:*`) or `*`. */
  channels: string[];
  /** Channels the holder may publish to, same patterns; leave out for a subscriber-only token. */
  publish?: string[];
  /** Lifetime in whole seconds. */
  ttl: number;
  /** The issue time in seconds since the epoch; the clock's by default. */
  now?: number;
}

const HEADER = encodeBase64Url(utf8ToBytes(JSON.stringify({ alg: "HS256", typ: "JWT" })));

function checkedPatterns(value: unknown, claim: string): string[] {
  const [patterns, err] = validatePatterns(value, claim);
  if (patterns === undefined) {
    throw new TypeError(`failed to mint token: ${err}`);
  }
  return patterns;
}

/**
 * Mints a token granting `grant` for `grant.ttl` seconds, signed with `secret` (the gateway's
 * PUSHGATE_JWT_SECRET). Throws a TypeError or RangeError on an argument the gateway would refuse.
 */
export function mintToken(grant: TokenGrant, secret: string): string {
  if (typeof grant.sub !== "string" || grant.sub.length === 0) {
    throw new TypeError("failed to mint token: sub must be a non-empty string");
  }
  const channels = checkedPatterns(grant.channels, "channels");
  const publish = grant.publish === undefined ? undefined : checkedPatterns(grant.publish, "publish");
  if (!Number.isSafeInteger(grant.ttl) || grant.ttl < 1) {
    throw new RangeError("failed to mint token: ttl must be a whole number of seconds, at least 1");
  }
  const now = grant.now ?? Math.floor(Date.now() / 1000);
  if (!Number.isFinite(now)) {
    throw new RangeError("failed to mint token: now must be a number of seconds");
  }
  if (typeof secret !== "string" || Buffer.byteLength(secret, "utf8") < MIN_SECRET_BYTES) {
    throw new RangeError(`failed to mint token: the secret must be at least ${MIN_SECRET_BYTES} bytes`);
  }
  const claims =
    publish === undefined
      ? { sub: grant.sub, channels, iat: now, exp: now + grant.ttl }
      : { sub: grant.sub, channels, publish, iat: now, exp: now + grant.ttl };
  const signingInput = `${HEADER}.${encodeBase64Url(utf8ToBytes(JSON.stringify(claims)))}`;
  return `${signingInput}.${encodeBase64Url(hmacSha256(secret, signingInput))}`;
}
