// Who may read and publish what. With PUSHGATE_JWT_SECRET set, a stream needs an HS256 token whose
// `channels` claim grants every channel it asks for, and a publish a publisher credential: the
// publisher key, or a token whose `publish` claim grants the channel. The entries read the
// credential from the request (Authorization: Bearer, ?token=, the auth cookie); this room decides.

import type { Settings } from "../config/schema";
import { firstRefused, grantAllows } from "../auth/grant";
import { constantTimeEquals } from "../auth/compare";
import { TokenClaims, TokenVerifier, verifyToken } from "../auth/jwt";
import { decodeJson, hmacSha256 } from "../host/crypto";
import { Failure, failure } from "../protocol/failure";

/** What a request presents, as the entry read it. */
export interface Credentials {
  /** The token or publisher key; "" for an Authorization header that is not a bearer token. */
  token: string | undefined;
  /** ?user=: who the request acts for while grants are off. */
  user: string | undefined;
  /** The client's address: who publishes, for rate limits, while there are no credentials. */
  address: string;
}

/** Who a stream acts for. Without auth, `user` is ?user= and nothing else is known. */
export interface Identity {
  user: string | undefined;
  /** Channel patterns the holder may subscribe to; undefined: anything (auth off). */
  grants: string[] | undefined;
  /** When the token stops being valid (seconds since the epoch, leeway included). */
  expires: number | undefined;
}

/** Who publishes: verified once (per request, or per WebSocket connection). */
export interface Publisher {
  /** A name for rate limiting: "key", "sub:<subject>", or "addr:<address>" with auth off. */
  name: string;
  /** Channel patterns it may publish to; undefined: any. */
  grants: string[] | undefined;
  /** When its token stops being valid (seconds since the epoch, leeway included). */
  expires: number | undefined;
}

/** The identity of every stream without auth and without ?user= (one table, not one per stream). */
const ANONYMOUS: Readonly<Identity> = { user: undefined, grants: undefined, expires: undefined };

let verifier: TokenVerifier | undefined;

function tokenVerifier(settings: Settings): TokenVerifier {
  if (verifier === undefined) {
    const secrets = [settings.jwtSecret];
    if (settings.jwtPreviousSecret.length > 0) {
      secrets.push(settings.jwtPreviousSecret);
    }
    verifier = { secrets, leewaySeconds: settings.jwtLeewaySeconds, maxTokenBytes: settings.jwtMaxBytes, hmacSha256, decodeJson };
  }
  return verifier;
}

export function enabled(settings: Settings): boolean {
  return settings.jwtSecret.length > 0;
}

function verified(settings: Settings, token: string): LuaMultiReturn<[TokenClaims] | [undefined, string]> {
  return verifyToken(token, tokenVerifier(settings), ngx.now());
}

/** The identity of a stream asking for `channels`: unauthorized (no or bad token), or forbidden naming the channel. */
export function forSubscribe(settings: Settings, credentials: Credentials, channels: string[]): LuaMultiReturn<[Identity] | [undefined, Failure]> {
  if (!enabled(settings)) {
    const user = credentials.user;
    return $multi(user !== undefined && user.length > 0 ? { user, grants: undefined, expires: undefined } : ANONYMOUS);
  }
  const token = credentials.token;
  if (token === undefined || token.length === 0) {
    return $multi(
      undefined,
      failure("unauthorized", `a token is required: Authorization: Bearer <token>, ?token=<token> or the ${settings.authCookie} cookie`),
    );
  }
  const [claims, err] = verified(settings, token);
  if (claims === undefined) {
    return $multi(undefined, failure("unauthorized", err));
  }
  const refused = firstRefused(claims.channels, channels);
  if (refused !== undefined) {
    return $multi(undefined, failure("forbidden", `channel ${refused} is not granted by the token`));
  }
  return $multi({ user: claims.sub, grants: claims.channels, expires: claims.exp + settings.jwtLeewaySeconds });
}

/** True when the identity's grant covers every one of `channels` (always, with auth off). */
export function mayRead(identity: Identity, channels: string[]): LuaMultiReturn<[true] | [undefined, string]> {
  if (identity.grants === undefined) {
    return $multi(true);
  }
  const refused = firstRefused(identity.grants, channels);
  if (refused !== undefined) {
    return $multi(undefined, `channel ${refused} is not granted by the token`);
  }
  return $multi(true);
}

/** The publisher the credentials stand for, or unauthorized. */
export function forPublish(settings: Settings, credentials: Credentials): LuaMultiReturn<[Publisher] | [undefined, Failure]> {
  if (!enabled(settings) && settings.publisherKey.length === 0) {
    return $multi({ name: `addr:${credentials.address}`, grants: undefined, expires: undefined });
  }
  const token = credentials.token;
  if (token === undefined || token.length === 0) {
    return $multi(undefined, failure("unauthorized", "a publisher credential is required: Authorization: Bearer <publisher key or token>"));
  }
  if (settings.publisherKey.length > 0 && constantTimeEquals(token, settings.publisherKey)) {
    return $multi({ name: "key", grants: undefined, expires: undefined });
  }
  if (!enabled(settings)) {
    return $multi(undefined, failure("unauthorized", "the publisher key does not match"));
  }
  const [claims, err] = verified(settings, token);
  if (claims === undefined) {
    return $multi(undefined, failure("unauthorized", err));
  }
  return $multi({ name: `sub:${claims.sub}`, grants: claims.publish, expires: claims.exp + settings.jwtLeewaySeconds });
}

/** Whether `publisher` may publish to `channel` now: its token still valid and its grant covering the channel. */
export function mayPublish(publisher: Publisher, channel: string): LuaMultiReturn<[true] | [undefined, Failure]> {
  if (publisher.expires !== undefined && ngx.now() >= publisher.expires) {
    return $multi(undefined, failure("unauthorized", "token expired"));
  }
  if (publisher.grants !== undefined && !grantAllows(publisher.grants, channel)) {
    return $multi(undefined, failure("forbidden", `publishing to channel ${channel} is not granted by the token`));
  }
  return $multi(true);
}

/**
 * Whether the credentials may read the gateway's operational endpoints (/status): anyone while
 * the gateway runs open, else only the publisher key.
 */
export function forOperator(settings: Settings, credentials: Credentials): LuaMultiReturn<[true] | [undefined, Failure]> {
  if (!enabled(settings) && settings.publisherKey.length === 0) {
    return $multi(true);
  }
  const token = credentials.token;
  if (settings.publisherKey.length === 0 || token === undefined || !constantTimeEquals(token, settings.publisherKey)) {
    return $multi(undefined, failure("unauthorized", "this endpoint needs the publisher key: Authorization: Bearer <PUSHGATE_PUBLISHER_KEY>"));
  }
  return $multi(true);
}
