// Who may read and publish what, checked in the worker. With PUSHGATE_JWT_SECRET set, a stream
// needs an HS256 token whose `channels` claim grants every channel it asks for, and POST /pub a
// publisher credential: the publisher key, or a token whose `publish` claim grants the channel.
// Tokens come from `Authorization: Bearer`, `?token=`, or the auth cookie.

import type { Settings } from "../config/schema";
import { firstRefused, grantAllows } from "../auth/grant";
import { constantTimeEquals } from "../auth/compare";
import { TokenClaims, TokenVerifier, verifyToken } from "../auth/jwt";
import { decodeJson, hmacSha256 } from "./crypto";
import { queryArg, UriArgs, uriArgs } from "./http";

/** Who a request acts for. Without auth, `user` is ?user= and nothing else is known. */
export interface Identity {
  user: string | undefined;
  /** Channel patterns the holder may subscribe to; undefined: anything (auth off). */
  grants: string[] | undefined;
  /** When the token stops being valid (seconds since the epoch, leeway included). */
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

/** The credential of the request: Authorization: Bearer, then ?token=, then the auth cookie. */
function credential(settings: Settings, args: UriArgs): string | undefined {
  const authorization = ngx.var.get("http_authorization");
  if (authorization !== undefined) {
    const [, , bearer] = string.find(authorization, "^[Bb]earer%s+(%S+)%s*$");
    return (bearer as string | undefined) ?? "";
  }
  const fromQuery = queryArg(args, "token");
  if (fromQuery !== undefined) {
    return fromQuery;
  }
  return ngx.var.get(`cookie_${settings.authCookie}`);
}

function needToken(settings: Settings): string {
  return `a token is required: Authorization: Bearer <token>, ?token=<token> or the ${settings.authCookie} cookie`;
}

function verified(settings: Settings, token: string): LuaMultiReturn<[TokenClaims] | [undefined, string]> {
  return verifyToken(token, tokenVerifier(settings), ngx.now());
}

/**
 * The identity of a subscribe request for `channels`, or undefined, a status (401: no or bad
 * token, 403: a channel not granted, named) and a message.
 */
export function forSubscribe(settings: Settings, channels: string[], args: UriArgs): LuaMultiReturn<[Identity] | [undefined, number, string]> {
  if (!enabled(settings)) {
    const user = queryArg(args, "user");
    return $multi(user !== undefined && user.length > 0 ? { user, grants: undefined, expires: undefined } : ANONYMOUS);
  }
  const token = credential(settings, args);
  if (token === undefined || token.length === 0) {
    return $multi(undefined, 401, needToken(settings));
  }
  const [claims, err] = verified(settings, token);
  if (claims === undefined) {
    return $multi(undefined, 401, err);
  }
  const refused = firstRefused(claims.channels, channels);
  if (refused !== undefined) {
    return $multi(undefined, 403, `channel ${refused} is not granted by the token`);
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

/**
 * Who publishes to `channel`: a name for rate limiting ("key", the token's subject, or the client
 * address with auth off), or undefined, a status (401, 403) and a message.
 */
export function forPublish(settings: Settings, channel: string, args: UriArgs = uriArgs()): LuaMultiReturn<[string] | [undefined, number, string]> {
  if (!enabled(settings) && settings.publisherKey.length === 0) {
    return $multi(`addr:${ngx.var.get("remote_addr") ?? "?"}`);
  }
  const token = credential(settings, args);
  if (token === undefined || token.length === 0) {
    return $multi(undefined, 401, "a publisher credential is required: Authorization: Bearer <publisher key or token>");
  }
  if (settings.publisherKey.length > 0 && constantTimeEquals(token, settings.publisherKey)) {
    return $multi("key");
  }
  if (!enabled(settings)) {
    return $multi(undefined, 401, "the publisher key does not match");
  }
  const [claims, err] = verified(settings, token);
  if (claims === undefined) {
    return $multi(undefined, 401, err);
  }
  if (!grantAllows(claims.publish, channel)) {
    return $multi(undefined, 403, `publishing to channel ${channel} is not granted by the token`);
  }
  return $multi(`sub:${claims.sub}`);
}

const DICT = "pushgate";

/** Counts a publish of `who` in the current second; false when over the limit. */
export function withinRate(settings: Settings, who: string): boolean {
  const limit = settings.publishRatePerSecond;
  const dict = ngx.shared.get(DICT);
  if (limit === 0 || dict === undefined) {
    return true;
  }
  const [count] = dict.incr(`rate:${who}:${math.floor(ngx.now())}`, 1, 0, 2);
  return count === undefined || count <= limit;
}

/** Takes one of the user's stream slots; false when the user holds the maximum already. */
export function openConnection(settings: Settings, user: string | undefined): boolean {
  const dict = ngx.shared.get(DICT);
  if (settings.maxConnectionsPerUser === 0 || user === undefined || dict === undefined) {
    return true;
  }
  const [count] = dict.incr(`conn:${user}`, 1, 0);
  if (count !== undefined && count > settings.maxConnectionsPerUser) {
    dict.incr(`conn:${user}`, -1, 0);
    return false;
  }
  return true;
}

export function closeConnection(settings: Settings, user: string | undefined): void {
  const dict = ngx.shared.get(DICT);
  if (settings.maxConnectionsPerUser !== 0 && user !== undefined && dict !== undefined) {
    dict.incr(`conn:${user}`, -1, 0);
  }
}
