// Public keys for RS256 and ES256 tokens: from a JWKS document (RFC 7517 §5) and from PEM files,
// gathered into one key ring chosen by the token's `kid`. Pure logic: the runtime hands in the
// loading of a key into its crypto library (OpenSSL through FFI in nginx, node:crypto in Node),
// as jwt.ts takes HMAC.
//
// A JWKS key is used when it is `kty` "RSA" (n, e) or `kty` "EC" with `crv` "P-256" (x, y), has a
// non-empty `kid`, and its `use` (when present) is "sig" and its `alg` (when present) RS256 for
// RSA, ES256 for EC. Other keys (encryption keys, other algorithms, other curves, symmetric
// keys) are skipped, as providers publish them side by side. A used key that is malformed, and a
// `kid` given twice, are errors. A PEM file's kid is its `kid=` prefix in the setting, else the
// file's base name without its extension.

import { decodeBase64Url } from "./base64url";
import { P256_BYTES, p256PublicKeyInfo, rsaPublicKeyInfo } from "./der";
import type { DecodeJson, KeyRing, PublicKey, SignatureAlg } from "./jwt";

/** A key to load: its kid, the algorithm it verifies, its DER SubjectPublicKeyInfo. */
export interface KeyInfo {
  kid: string;
  alg: SignatureAlg;
  der: string;
}

/** Loads DER SubjectPublicKeyInfo into the runtime's key object; undefined and the reason when it cannot. */
export type LoadDerKey = (this: void, der: string) => LuaMultiReturn<[unknown] | [undefined, string]>;
/** Loads a PEM public key; gives the key object and its algorithm (RS256 for RSA, ES256 for P-256). */
export type LoadPemKey = (this: void, pem: string) => LuaMultiReturn<[unknown, SignatureAlg] | [undefined, string]>;

type JsonObject = Record<string, unknown>;

/** The bytes of a base64url member of `key`; `name` is for messages. */
function member(key: JsonObject, name: string, kid: string): LuaMultiReturn<[string] | [undefined, string]> {
  const text = key[name];
  if (typeof text !== "string" || text.length === 0) {
    return $multi(undefined, `jwks key ${kid}: ${name} must be a base64url string`);
  }
  const [bytes] = decodeBase64Url(text);
  if (bytes === undefined) {
    return $multi(undefined, `jwks key ${kid}: ${name} is not base64url`);
  }
  return $multi(bytes);
}

/** The algorithm a JWK is for, or undefined when it is skipped. */
function usableAlg(key: JsonObject): SignatureAlg | undefined {
  if (key.use !== undefined && key.use !== "sig") {
    return undefined;
  }
  if (key.kty === "RSA" && (key.alg === undefined || key.alg === "RS256")) {
    return "RS256";
  }
  if (key.kty === "EC" && key.crv === "P-256" && (key.alg === undefined || key.alg === "ES256")) {
    return "ES256";
  }
  return undefined;
}

/** One usable JWK as DER; undefined and an error when malformed. */
function keyInfoOf(key: JsonObject, alg: SignatureAlg, kid: string): LuaMultiReturn<[KeyInfo] | [undefined, string]> {
  if (alg === "RS256") {
    const [n, nErr] = member(key, "n", kid);
    if (n === undefined) {
      return $multi(undefined, nErr);
    }
    const [e, eErr] = member(key, "e", kid);
    if (e === undefined) {
      return $multi(undefined, eErr);
    }
    return $multi({ kid, alg, der: rsaPublicKeyInfo(n, e) });
  }
  const [x, xErr] = member(key, "x", kid);
  if (x === undefined) {
    return $multi(undefined, xErr);
  }
  const [y, yErr] = member(key, "y", kid);
  if (y === undefined) {
    return $multi(undefined, yErr);
  }
  if (x.length !== P256_BYTES || y.length !== P256_BYTES) {
    return $multi(undefined, `jwks key ${kid}: x and y must be ${P256_BYTES} bytes each`);
  }
  return $multi({ kid, alg, der: p256PublicKeyInfo(x, y) });
}

/**
 * The usable keys of a JWKS document (JSON text as bytes). Errors name the key: a document that
 * is not `{"keys":[…]}`, a usable key that is malformed or without kid.
 */
export function parseJwks(text: string, decodeJson: DecodeJson): LuaMultiReturn<[KeyInfo[]] | [undefined, string]> {
  const [document] = decodeJson(text);
  if (document === undefined || typeof document !== "object" || document === null) {
    return $multi(undefined, "jwks is not a JSON object");
  }
  const keys = (document as JsonObject).keys;
  if (!Array.isArray(keys)) {
    return $multi(undefined, "jwks has no keys list");
  }
  const infos: KeyInfo[] = [];
  for (const entry of keys as unknown[]) {
    if (typeof entry === "object" && entry !== null) {
      const key = entry as JsonObject;
      const alg = usableAlg(key);
      if (alg !== undefined) {
        const kid = key.kid;
        if (typeof kid !== "string" || kid.length === 0) {
          return $multi(undefined, `jwks has a ${alg} key without kid`);
        }
        const [info, err] = keyInfoOf(key, alg, kid);
        if (info === undefined) {
          return $multi(undefined, err);
        }
        infos.push(info);
      }
    }
  }
  return $multi(infos);
}

/** The kid and path of one PUSHGATE_JWT_PUBLIC_KEYS item: `kid=path`, or `path` (kid: base name without extension). */
export function keyFileItem(item: string): { kid: string; path: string } {
  const equals = item.indexOf("=");
  if (equals > 0) {
    return { kid: item.substring(0, equals), path: item.substring(equals + 1) };
  }
  let start = 0;
  for (let i = 0; i < item.length; i++) {
    if (item.charCodeAt(i) === 47) {
      start = i + 1; // after the last "/"
    }
  }
  const base = item.substring(start);
  const dot = base.indexOf(".");
  return { kid: dot > 0 ? base.substring(0, dot) : base, path: item };
}

/** What buildKeyRing reads: PEM texts with their kid, JWKS texts, and the runtime's loaders. */
export interface KeySources {
  pems: Array<{ kid: string; pem: string }>;
  jwks: string[];
  loadPem: LoadPemKey;
  loadDer: LoadDerKey;
  decodeJson: DecodeJson;
}

/** kid → key, for TokenVerifier.keys. Errors name the kid or the document. */
export function buildKeyRing(sources: KeySources): LuaMultiReturn<[KeyRing & { forEach: Map<string, PublicKey>["forEach"] }] | [undefined, string]> {
  const ring = new Map<string, PublicKey>();
  for (const { kid, pem } of sources.pems) {
    const [handle, alg] = sources.loadPem(pem);
    if (handle === undefined) {
      return $multi(undefined, `public key ${kid}: ${alg}`);
    }
    if (ring.has(kid)) {
      return $multi(undefined, `public key ${kid}: the kid is given twice`);
    }
    ring.set(kid, { alg: alg as SignatureAlg, handle });
  }
  for (const text of sources.jwks) {
    const [infos, err] = parseJwks(text, sources.decodeJson);
    if (infos === undefined) {
      return $multi(undefined, err);
    }
    for (const info of infos) {
      const [handle, loadErr] = sources.loadDer(info.der);
      if (handle === undefined) {
        return $multi(undefined, `jwks key ${info.kid}: ${loadErr}`);
      }
      if (ring.has(info.kid)) {
        return $multi(undefined, `jwks key ${info.kid}: the kid is given twice`);
      }
      ring.set(info.kid, { alg: info.alg, handle });
    }
  }
  return $multi(ring);
}
