// Who may read and publish what. With a token secret or public keys set (PUSHGATE_JWT_SECRET,
// PUSHGATE_JWT_PUBLIC_KEYS, PUSHGATE_JWKS_FILE), a stream needs an HS256/RS256/ES256 token whose
// `channels` claim grants every channel it asks for, and a publish a publisher credential: the
// publisher key, or a token whose `publish` claim grants the channel. With PUSHGATE_AUTH_URL, a
// stream without a token is granted by the app's answer (backend.ts). The entries read the
// credential from the request (Authorization: Bearer, ?token=, the auth cookie); this room decides.

import type { Settings } from "../config/schema";
import { firstRefused, grantAllows } from "../auth/grant";
import { constantTimeEquals } from "../auth/compare";
import { buildKeyRing, keyFileItem } from "../auth/jwk";
import { TokenClaims, TokenVerifier, verifyToken } from "../auth/jwt";
import { decodeJson, hmacSha256, loadDerKey, loadPemKey, verifySignature } from "../host/crypto";
import { askBackend } from "./backend";
import { Failure, failure } from "../protocol/failure";

/** What a request presents, as the entry read it. */
export interface Credentials {
  /** The token or publisher key; "" for an Authorization header that is not a bearer token. */
  token: string | undefined;
  /** ?user=: who the request acts for while grants are off. */
  user: string | undefined;
  /** The client's address: who publishes, for rate limits, while there are no credentials. */
  address: string;
  /** The Cookie header, for backend auth's cache key (the subrequest forwards it itself). */
  cookie?: string;
  /** The Authorization header as sent, for backend auth's cache key. */
  authorization?: string;
}

/** Who a stream acts for. Without auth, `user` is ?user= and nothing else is known. */
export interface Identity {
  user: string | undefined;
  /** Channel patterns the holder may subscribe to; undefined: anything (auth off). */
  grants: string[] | undefined;
  /** When the token stops being valid (seconds since the epoch, leeway included). */
  expires: number | undefined;
  /** Channel patterns the holder may publish to, when its grant says (a token's or the app's). */
  publish?: string[];
  /** The token's id, when it has one: what a revocation names. */
  jti?: string;
  /** A token's issue time (s; 0 for a token without iat); undefined without a token (backend auth, no auth). */
  issued?: number;
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

/** The whole text of a file, or undefined and why not. */
function readFile(path: string): LuaMultiReturn<[string] | [undefined, string]> {
  const [file, err] = io.open(path, "rb");
  if (file === undefined) {
    return $multi(undefined, `failed to read ${path}: ${err}`);
  }
  const text = file.read("*a") as string | undefined;
  file.close();
  return $multi(text ?? "");
}

/** The public keys of the settings' PEM files and JWKS file, by kid. */
function loadKeys(settings: Settings) {
  const pems: Array<{ kid: string; pem: string }> = [];
  for (const item of settings.jwtPublicKeys) {
    const { kid, path } = keyFileItem(item);
    const [pem, err] = readFile(path);
    if (pem === undefined) {
      return $multi(undefined, err);
    }
    pems.push({ kid, pem });
  }
  const jwks: string[] = [];
  if (settings.jwksFile.length > 0) {
    const [text, err] = readFile(settings.jwksFile);
    if (text === undefined) {
      return $multi(undefined, err);
    }
    jwks.push(text);
  }
  return buildKeyRing({ pems, jwks, loadPem: loadPemKey, loadDer: loadDerKey, decodeJson });
}

/**
 * Builds the token verifier: secrets, and the public keys read from their files. Called by
 * init_by_lua (a bad key file stops nginx at start; workers inherit the keys), else at first use.
 */
export function prepare(settings: Settings): LuaMultiReturn<[TokenVerifier] | [undefined, string]> {
  if (verifier !== undefined) {
    return $multi(verifier);
  }
  const secrets: string[] = [];
  if (settings.jwtSecret.length > 0) {
    secrets.push(settings.jwtSecret);
  }
  if (settings.jwtPreviousSecret.length > 0) {
    secrets.push(settings.jwtPreviousSecret);
  }
  const [keys, err] = loadKeys(settings);
  if (keys === undefined) {
    return $multi(undefined, `failed to load token keys: ${err}`);
  }
  verifier = {
    secrets,
    leewaySeconds: settings.jwtLeewaySeconds,
    maxTokenBytes: settings.jwtMaxBytes,
    hmacSha256,
    decodeJson,
    keys,
    verifySignature,
    issuer: settings.jwtIssuer,
    audience: settings.jwtAudience,
  };
  return $multi(verifier);
}

/** True when tokens are verified: a secret or public keys are configured. */
function tokensOn(settings: Settings): boolean {
  return settings.jwtSecret.length > 0 || settings.jwtPublicKeys.length > 0 || settings.jwksFile.length > 0;
}

/** True when streams need credentials: tokens or backend auth. */
export function enabled(settings: Settings): boolean {
  return tokensOn(settings) || settings.authUrl.length > 0;
}

function verified(settings: Settings, token: string): LuaMultiReturn<[TokenClaims] | [undefined, Failure]> {
  const [ready, err] = prepare(settings);
  if (ready === undefined) {
    ngx.log(ngx.ERR, "pushgate: ", err);
    return $multi(undefined, failure("unavailable", "token keys are not loaded"));
  }
  const [claims, refusal] = verifyToken(token, ready, ngx.now());
  if (claims === undefined) {
    return $multi(undefined, failure("unauthorized", refusal));
  }
  return $multi(claims);
}

/** The identity a verified token stands for, or forbidden naming the first channel not granted. */
function identityOf(settings: Settings, claims: TokenClaims, channels: string[]): LuaMultiReturn<[Identity] | [undefined, Failure]> {
  const refused = firstRefused(claims.channels, channels);
  if (refused !== undefined) {
    return $multi(undefined, failure("forbidden", `channel ${refused} is not granted by the token`));
  }
  return $multi(tokenIdentity(settings, claims));
}

/** What a verified token says of whoever holds it. */
function tokenIdentity(settings: Settings, claims: TokenClaims): Identity {
  return {
    user: claims.sub,
    grants: claims.channels,
    expires: claims.exp + settings.jwtLeewaySeconds,
    publish: claims.publish,
    jti: claims.jti,
    issued: claims.iat ?? 0,
  };
}

/** The identity of a stream asking for `channels`: unauthorized (no or bad token), or forbidden naming the channel. */
export function forSubscribe(settings: Settings, credentials: Credentials, channels: string[]): LuaMultiReturn<[Identity] | [undefined, Failure]> {
  if (!enabled(settings)) {
    const user = credentials.user;
    return $multi(user !== undefined && user.length > 0 ? { user, grants: undefined, expires: undefined } : ANONYMOUS);
  }
  const token = credentials.token;
  const hasToken = token !== undefined && token.length > 0;
  if (settings.authUrl.length > 0 && (!hasToken || !tokensOn(settings))) {
    return askBackend(settings, credentials, channels);
  }
  if (token === undefined || token.length === 0) {
    return $multi(
      undefined,
      failure("unauthorized", `a token is required: Authorization: Bearer <token>, ?token=<token> or the ${settings.authCookie} cookie`),
    );
  }
  const [claims, err] = verified(settings, token);
  if (claims === undefined) {
    return $multi(undefined, err);
  }
  return identityOf(settings, claims, channels);
}

/**
 * The identity a fresh token gives a live stream (a WebSocket `refresh` frame): the token must be
 * valid and for the same user; channels it no longer grants are for the caller to drop.
 */
export function forRefresh(settings: Settings, current: Identity, token: string): LuaMultiReturn<[Identity] | [undefined, Failure]> {
  if (!tokensOn(settings)) {
    return $multi(undefined, failure("invalid", "refresh needs tokens: the gateway verifies none"));
  }
  const [claims, err] = verified(settings, token);
  if (claims === undefined) {
    return $multi(undefined, err);
  }
  if (current.user !== undefined && claims.sub !== current.user) {
    return $multi(undefined, failure("forbidden", "the new token is for another user"));
  }
  return $multi(tokenIdentity(settings, claims));
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
  if (!tokensOn(settings)) {
    return $multi(undefined, failure("unauthorized", "the publisher key does not match"));
  }
  const [claims, err] = verified(settings, token);
  if (claims === undefined) {
    return $multi(undefined, err);
  }
  return $multi({ name: `sub:${claims.sub}`, grants: claims.publish, expires: claims.exp + settings.jwtLeewaySeconds });
}

/**
 * The publisher a stream's own grant makes of it (a WebSocket publishing on its connection): its
 * token's or the app's `publish` grant, or undefined when it has none (then forPublish decides).
 */
export function publisherOf(identity: Identity): Publisher | undefined {
  if (identity.publish === undefined || identity.user === undefined) {
    return undefined;
  }
  return { name: `sub:${identity.user}`, grants: identity.publish, expires: identity.expires };
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
