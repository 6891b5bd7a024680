// Compact JSON Web Tokens (RFC 7519 on RFC 7515) signed with HS256, RS256 or ES256: split, check
// the header, verify the signature against the configured secrets or public keys, then check
// the claims. Pure logic, compiled to Lua for nginx and run by Node for the SDK and jest. The
// runtime hands in HMAC-SHA256, public-key verification and a JSON decoder (OpenSSL through FFI
// and cjson in nginx, node:crypto and JSON.parse in Node), the way frame.ts takes QuoteJson.
// Strings are byte strings: see base64url.ts.
//
// The rules, in the order they are checked (the first broken one is the answer):
// - at most `maxTokenBytes`, three non-empty dot-separated parts, each strict base64url;
// - the header is a JSON object whose `alg` is exactly "HS256", "RS256" or "ES256" (so "none",
//   "HS512" and a missing alg are refused before any signature work), whose `typ`, when present,
//   is "JWT" in any case, and which has no `crit` (no extension is supported);
// - HS256: the signature is the HMAC-SHA256 of `header.payload` under one of the secrets
//   (current first, then the previous one during a rotation), compared in constant time;
// - RS256, ES256: the header's `kid` names a configured public key made for that alg (an RSA key
//   verifies only RS256, a P-256 key only ES256, a secret never either: no key confusion), and
//   the signature verifies under it (ES256: raw r || s of 64 bytes, handed on as DER);
// - only then is the payload decoded: a JSON object with `exp` (a finite number), optional
//   `nbf` and `iat` (finite numbers), `sub` (a non-empty string), and `channels` and/or
//   `publish` (lists of channel patterns, see grant.ts);
// - with an issuer configured, `iss` is exactly it; with an audience configured, `aud` is it or
//   a list holding it;
// - `now` is before `exp` + leeway and not before `nbf` - leeway.

import { decodeBase64Url } from "./base64url";
import { constantTimeEquals } from "./compare";
import { ecdsaSignatureToDer } from "./der";

export type { TokenClaims };
import { claimsOf, issuerRefusal, TokenClaims } from "./claims";

/**
 * HMAC-SHA256 of the byte string `data` under `key`: the raw 32-byte digest as a byte string.
 * `key` is a secret as configured, passed through untouched: bytes in Lua, text in Node that the
 * Node side hashes as UTF-8 (as JWT libraries do with a string secret), so both use the same bytes.
 */
export type HmacSha256 = (this: void, key: string, data: string) => string;

/** Decodes JSON text (UTF-8 bytes as a byte string); JSON null decodes to the runtime's null. */
export type DecodeJson = (this: void, text: string) => LuaMultiReturn<[unknown] | [undefined, string]>;

/** The public-key algorithms. */
export type SignatureAlg = "RS256" | "ES256";

/** A configured public key: the algorithm it verifies and the runtime's key object. */
export interface PublicKey {
  alg: SignatureAlg;
  handle: unknown;
}

/** Public keys by kid (a Map, seen through what verification needs). */
export interface KeyRing {
  get(kid: string): PublicKey | undefined;
  readonly size: number;
}

/**
 * Verifies `signature` (bytes: PKCS#1 v1.5 for RS256, DER ECDSA-Sig-Value for ES256) over the
 * byte string `data` with SHA-256 under `key`. True only for a valid signature.
 */
export type VerifySignature = (this: void, key: PublicKey, data: string, signature: string) => boolean;

/** Largest token accepted, in bytes. */
export const MAX_TOKEN_BYTES = 8192;
/** Clock difference tolerated between the token's issuer and the gateway, in seconds. */
export const DEFAULT_LEEWAY_SECONDS = 30;

const SIGNATURE_BYTES = 32;

/** What verifyToken needs; build it once (per worker) and reuse it for every request. */
export interface TokenVerifier {
  /** The current secret first, then the previous one while tokens signed with it may remain. */
  secrets: string[];
  leewaySeconds: number;
  maxTokenBytes: number;
  hmacSha256: HmacSha256;
  decodeJson: DecodeJson;
  /** Public keys by kid (RS256, ES256); none: only HS256. */
  keys?: KeyRing;
  verifySignature?: VerifySignature;
  /** Required `iss`; undefined or "": not checked. */
  issuer?: string;
  /** Required `aud` (the value, or one of the list); undefined or "": not checked. */
  audience?: string;
}

/** The three base64url parts of a compact token, and the text the signature covers. */
export interface TokenParts {
  header: string;
  payload: string;
  signature: string;
  /** `header.payload` */
  signingInput: string;
}

type JsonObject = Record<string, unknown>;

/**
 * Splits a compact token into its three parts, refusing an empty or oversized token and any
 * other number of parts (a JWE has five). The parts are not decoded.
 */
export function splitToken(token: string, maxBytes: number): LuaMultiReturn<[TokenParts] | [undefined, string]> {
  const length = token.length;
  if (length === 0) {
    return $multi(undefined, "token is empty");
  }
  if (length > maxBytes) {
    return $multi(undefined, `token too large: the limit is ${maxBytes} bytes`);
  }
  const firstDot = token.indexOf(".");
  const secondDot = firstDot < 0 ? -1 : token.indexOf(".", firstDot + 1);
  if (secondDot < 0 || token.indexOf(".", secondDot + 1) >= 0) {
    return $multi(undefined, "token must have three parts separated by dots");
  }
  return $multi({
    header: token.substring(0, firstDot),
    payload: token.substring(firstDot + 1, secondDot),
    signature: token.substring(secondDot + 1),
    signingInput: token.substring(0, secondDot),
  });
}

/** Decodes base64url bytes of JSON into an object; `name` ("header", "payload") is for messages. */
function decodeObject(bytes: string, name: string, decodeJson: DecodeJson): LuaMultiReturn<[JsonObject] | [undefined, string]> {
  const [value] = decodeJson(bytes);
  if (value === undefined) {
    // The decoder's own message differs between runtimes and helps no client: leave it out.
    return $multi(undefined, `token ${name} is not JSON`);
  }
  // A JSON null is null in Node and a userdata (cjson.null) in Lua: neither is an "object" here.
  if (typeof value !== "object" || value === null) {
    return $multi(undefined, `token ${name} is not a JSON object`);
  }
  return $multi(value as JsonObject);
}

/** The bytes of a non-empty base64url part; `name` is for messages. */
function decodePart(part: string, name: string): LuaMultiReturn<[string] | [undefined, string]> {
  if (part.length === 0) {
    return $multi(undefined, `token ${name} is empty`);
  }
  const [bytes, err] = decodeBase64Url(part);
  if (bytes === undefined) {
    return $multi(undefined, `token ${name} is not base64url: ${err}`);
  }
  return $multi(bytes);
}

/** The header's refusal, or undefined when it asks for what we do: HS256/RS256/ES256, typ JWT, nothing critical. */
function headerRefusal(header: JsonObject): string | undefined {
  const alg = header.alg;
  if (alg !== "HS256" && alg !== "RS256" && alg !== "ES256") {
    return "token alg must be HS256, RS256 or ES256";
  }
  const typ = header.typ;
  if (typ !== undefined && (typeof typ !== "string" || typ.toUpperCase() !== "JWT")) {
    return "token typ must be JWT";
  }
  if (header.crit !== undefined) {
    return "token header has crit: no extension is supported";
  }
  return undefined;
}

/** The public key the header names for its alg, or undefined and the refusal. */
function keyFor(header: JsonObject, verifier: TokenVerifier): LuaMultiReturn<[PublicKey] | [undefined, string]> {
  const kid = header.kid;
  if (typeof kid !== "string" || kid.length === 0) {
    return $multi(undefined, `token kid is required for ${header.alg as string}`);
  }
  const key = verifier.keys !== undefined ? verifier.keys.get(kid) : undefined;
  if (key === undefined) {
    return $multi(undefined, "token kid names no configured key");
  }
  if (key.alg !== header.alg) {
    return $multi(undefined, `token alg ${header.alg as string} does not match its key, which is for ${key.alg}`);
  }
  return $multi(key);
}

/** True when the signature part verifies under `key` (RS256, ES256). */
function publicSignatureMatches(parts: TokenParts, key: PublicKey, verifier: TokenVerifier): boolean {
  const [signature] = decodeBase64Url(parts.signature);
  if (signature === undefined || verifier.verifySignature === undefined) {
    return false;
  }
  if (key.alg === "ES256") {
    const der = ecdsaSignatureToDer(signature);
    return der !== undefined && verifier.verifySignature(key, parts.signingInput, der);
  }
  return verifier.verifySignature(key, parts.signingInput, signature);
}

/** True when the signature part is the HMAC-SHA256 of the signing input under one of the secrets. */
function signatureMatches(parts: TokenParts, verifier: TokenVerifier): boolean {
  // A signature that is not strict base64url, or not 32 bytes, matches nothing.
  const [signature] = decodeBase64Url(parts.signature);
  if (signature === undefined || signature.length !== SIGNATURE_BYTES) {
    return false;
  }
  for (const secret of verifier.secrets) {
    if (constantTimeEquals(verifier.hmacSha256(secret, parts.signingInput), signature)) {
      return true;
    }
  }
  return false;
}

/**
 * Verifies a compact HS256, RS256 or ES256 token at `now` (seconds since the epoch, fractions
 * allowed). Returns the claims, or undefined and the reason, fit for a 401 answer ("token
 * expired", "token signature does not match", "token kid names no configured key", ...).
 */
export function verifyToken(token: string, verifier: TokenVerifier, now: number): LuaMultiReturn<[TokenClaims] | [undefined, string]> {
  const hasKeys = verifier.keys !== undefined && verifier.keys.size > 0;
  if (verifier.secrets.length === 0 && !hasKeys) {
    return $multi(undefined, "no token secret is configured");
  }
  const [parts, splitErr] = splitToken(token, verifier.maxTokenBytes);
  if (parts === undefined) {
    return $multi(undefined, splitErr);
  }
  const [headerBytes, headerPartErr] = decodePart(parts.header, "header");
  if (headerBytes === undefined) {
    return $multi(undefined, headerPartErr);
  }
  const [header, headerErr] = decodeObject(headerBytes, "header", verifier.decodeJson);
  if (header === undefined) {
    return $multi(undefined, headerErr);
  }
  const refusal = headerRefusal(header);
  if (refusal !== undefined) {
    return $multi(undefined, refusal);
  }
  let key: PublicKey | undefined;
  if (header.alg === "HS256") {
    if (verifier.secrets.length === 0) {
      return $multi(undefined, "token alg HS256 is not accepted: no secret is configured");
    }
  } else {
    const [found, keyErr] = keyFor(header, verifier);
    if (found === undefined) {
      return $multi(undefined, keyErr);
    }
    key = found;
  }
  const [payloadBytes, payloadPartErr] = decodePart(parts.payload, "payload");
  if (payloadBytes === undefined) {
    return $multi(undefined, payloadPartErr);
  }
  if (parts.signature.length === 0) {
    return $multi(undefined, "token has no signature");
  }
  const matches = key !== undefined ? publicSignatureMatches(parts, key, verifier) : signatureMatches(parts, verifier);
  if (!matches) {
    return $multi(undefined, "token signature does not match");
  }
  // Only a payload signed with our secret or keys is parsed.
  const [payload, payloadErr] = decodeObject(payloadBytes, "payload", verifier.decodeJson);
  if (payload === undefined) {
    return $multi(undefined, payloadErr);
  }
  const [claims, claimsErr] = claimsOf(payload, verifier.leewaySeconds, now);
  if (claims === undefined) {
    return $multi(undefined, claimsErr);
  }
  const issuerErr = issuerRefusal(payload, verifier.issuer, verifier.audience);
  if (issuerErr !== undefined) {
    return $multi(undefined, issuerErr);
  }
  return $multi(claims);
}
