// The claims of a token whose signature verified (jwt.ts): their types, the issuer and audience
// when configured, and the time window. Pure logic, compiled to Lua and run by Node.

import { validatePatterns } from "./grant";

type JsonObject = Record<string, unknown>;

/** The claims of a verified token. */
export interface TokenClaims {
  /** The user: selects the user's inbox and presence identity. */
  sub: string;
  /** Patterns of the channels the holder may subscribe to (may be empty). */
  channels: string[];
  /** Patterns of the channels the holder may publish to (may be empty). */
  publish: string[];
  /** Expiry, seconds since the epoch: a stream should end when it passes. */
  exp: number;
  nbf?: number;
  iat?: number;
  /** The token's id: what the server API's revoke {jti} names. */
  jti?: string;
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value);
}

/** True when `aud` is `audience` or a list holding it. */
function audienceMatches(aud: unknown, audience: string): boolean {
  if (aud === audience) {
    return true;
  }
  if (!Array.isArray(aud)) {
    return false;
  }
  for (const entry of aud as unknown[]) {
    if (entry === audience) {
      return true;
    }
  }
  return false;
}

/** The refusal of `iss` and `aud` against the configured issuer and audience, or undefined. */
export function issuerRefusal(payload: JsonObject, issuer: string | undefined, audience: string | undefined): string | undefined {
  if (issuer !== undefined && issuer.length > 0 && payload.iss !== issuer) {
    return "token iss is not the configured issuer";
  }
  if (audience !== undefined && audience.length > 0 && !audienceMatches(payload.aud, audience)) {
    return "token aud does not name the configured audience";
  }
  return undefined;
}

/** Checks the claims' types and the time window. */
export function claimsOf(payload: JsonObject, leewaySeconds: number, now: number): LuaMultiReturn<[TokenClaims] | [undefined, string]> {
  const exp = payload.exp;
  if (exp === undefined) {
    return $multi(undefined, "token has no exp");
  }
  if (!isFiniteNumber(exp)) {
    return $multi(undefined, "token exp must be a number");
  }
  const nbf = payload.nbf;
  if (nbf !== undefined && !isFiniteNumber(nbf)) {
    return $multi(undefined, "token nbf must be a number");
  }
  const iat = payload.iat;
  if (iat !== undefined && !isFiniteNumber(iat)) {
    return $multi(undefined, "token iat must be a number");
  }
  const jti = payload.jti;
  if (jti !== undefined && typeof jti !== "string") {
    return $multi(undefined, "token jti must be a string");
  }
  const sub = payload.sub;
  if (typeof sub !== "string" || sub.length === 0) {
    return $multi(undefined, "token sub must be a non-empty string");
  }
  const channelsClaim = payload.channels;
  const publishClaim = payload.publish;
  if (channelsClaim === undefined && publishClaim === undefined) {
    return $multi(undefined, "token grants nothing: it has neither channels nor publish");
  }
  let channels: string[] = [];
  if (channelsClaim !== undefined) {
    const [checked, err] = validatePatterns(channelsClaim, "token channels");
    if (checked === undefined) {
      return $multi(undefined, err);
    }
    channels = checked;
  }
  let publish: string[] = [];
  if (publishClaim !== undefined) {
    const [checked, err] = validatePatterns(publishClaim, "token publish");
    if (checked === undefined) {
      return $multi(undefined, err);
    }
    publish = checked;
  }
  if (now >= exp + leewaySeconds) {
    return $multi(undefined, "token expired");
  }
  if (nbf !== undefined && now < nbf - leewaySeconds) {
    return $multi(undefined, "token not valid yet");
  }
  return $multi({ sub, channels, publish, exp, nbf, iat, jti });
}
