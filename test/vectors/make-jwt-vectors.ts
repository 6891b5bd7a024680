// Generates test/vectors/jwt.json, the auth vectors that test/unit/auth.test.ts (Node) and
// test/lua/auth_spec.lua (LuaJIT) both run: base64url, grant patterns, HMAC-SHA256 known answers
// and tokens with the verdict expected at a fixed "now".
//
// Tokens are minted here with node:crypto and Buffer's base64url, not with the code under test;
// a last group is minted by the SDK, so the Lua side proves it accepts what the SDK makes.
// Deterministic: the same run gives the same file, and auth.test.ts checks that the committed
// file is this script's output. RS256 and ES256 tokens are minted with Node's own signer from the
// test keys in test/vectors/keys/ (see node-keys.ts); ECDSA signatures are randomized, so an
// ES256 token already in the file is kept while its signed part is unchanged and it verifies.
//
//   bash scripts/build && node build/test/vectors/make-jwt-vectors.js

import "../../src/cli/multi";
import { createHmac, createPrivateKey, createPublicKey, verify } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { mintToken } from "../../sdk/token";
import { keyFile, mintSigned } from "./node-keys";

export const VECTORS_PATH = resolve(__dirname, "../../../test/vectors/jwt.json");

const NOW = 1700000000;
const LEEWAY_SECONDS = 30;
const MAX_TOKEN_BYTES = 8192;
const CURRENT = "current-secret-for-tests-0123456789abcdef";
const PREVIOUS = "previous-secret-for-tests-0123456789abcdef";
const OTHER = "some-other-secret-0123456789abcdef-0123456";
const MULTI_BYTE_SECRET = "sécret ☃ with multi-byte characters 😀";

const PATTERN_ERROR = "a pattern is a channel name (1 to 128 characters of A-Z a-z 0-9 _ - . : @ /), or the start of one followed by *, or * alone";

export interface Base64UrlVector {
  name: string;
  text: string;
  hex?: string;
  error?: string;
}
export interface PatternVector {
  pattern: string;
  valid: boolean;
}
export interface GrantVector {
  name: string;
  patterns: string[];
  channels: string[];
  refused?: string;
}
export interface HmacVector {
  name: string;
  keyHex: string;
  dataHex: string;
  digestHex: string;
}
export interface ExpectedClaims {
  sub: string;
  channels: string[];
  publish: string[];
  exp: number;
  nbf?: number;
  iat?: number;
}
export interface TokenVector {
  name: string;
  token: string;
  secrets?: string[];
  claims?: ExpectedClaims;
  error?: string;
}
export interface DerVector {
  name: string;
  /** ES256: the raw r || s signature and its DER form (derHex absent: refused). */
  rawHex?: string;
  /** JWK: the public key whose SubjectPublicKeyInfo is derHex. */
  jwk?: Record<string, string>;
  derHex?: string;
}
export interface KeyRingVector {
  name: string;
  pems: Array<{ kid: string; pem: string }>;
  jwks: string[];
  /** "kid:alg" of every key, sorted; or the error. */
  kids?: string[];
  error?: string;
}
export interface SignedVectors {
  now: number;
  leewaySeconds: number;
  maxTokenBytes: number;
  secrets: string[];
  issuer: string;
  audience: string;
  pems: Array<{ kid: string; pem: string }>;
  jwks: string[];
  cases: TokenVector[];
}
export interface JwtVectors {
  base64url: Base64UrlVector[];
  patterns: PatternVector[];
  grants: GrantVector[];
  hmac: HmacVector[];
  tokens: { now: number; leewaySeconds: number; maxTokenBytes: number; secrets: string[]; cases: TokenVector[] };
  der: DerVector[];
  keyrings: KeyRingVector[];
  signed: SignedVectors;
}

function hex(text: string, encoding: BufferEncoding = "utf8"): string {
  return Buffer.from(text, encoding).toString("hex");
}

function base64urlVectors(): Base64UrlVector[] {
  const good = (name: string, bytes: Buffer): Base64UrlVector => ({ name, text: bytes.toString("base64url"), hex: bytes.toString("hex") });
  const allBytes = Buffer.alloc(256);
  for (let i = 0; i < 256; i++) {
    allBytes[i] = i;
  }
  return [
    // RFC 4648 section 10, without padding
    good("empty", Buffer.from("")),
    good("f", Buffer.from("f")),
    good("fo", Buffer.from("fo")),
    good("foo", Buffer.from("foo")),
    good("foob", Buffer.from("foob")),
    good("fooba", Buffer.from("fooba")),
    good("foobar", Buffer.from("foobar")),
    good("the two url-safe characters", Buffer.from([0xfb, 0xff, 0xbf])),
    good("high bytes", Buffer.from([0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0xfa, 0x00, 0x80])),
    good("every byte", allBytes),
    good("utf-8 text", Buffer.from("é ☃ 😀", "utf8")),
    { name: "length 4n+1", text: "Zm9vY", error: "invalid base64url length 5" },
    { name: "padding", text: "Zg==", error: "invalid base64url character at position 3" },
    { name: "plus of base64", text: "Zm+v", error: "invalid base64url character at position 3" },
    { name: "slash of base64", text: "Zm9v/A", error: "invalid base64url character at position 5" },
    { name: "space", text: "Zm9 vA", error: "invalid base64url character at position 4" },
    { name: "newline", text: "Zm9v\n", error: "invalid base64url length 5" },
    { name: "multi-byte character", text: "Zmé", error: "invalid base64url character at position 3" },
    { name: "unused bits set, 2-character tail", text: "Zh", error: "invalid base64url: the unused bits of the last character are not zero" },
    { name: "unused bits set, 3-character tail", text: "Zm9", error: "invalid base64url: the unused bits of the last character are not zero" },
  ];
}

function patternVectors(): PatternVector[] {
  const valid = ["user:42", "room:*", "*", "a*", "user:42@eu-1/room_A.x", "x".repeat(128), `${"x".repeat(128)}*`];
  const invalid = ["", "**", "ro*om", "*room", "room:**", "room:*x", "a b*", "café", "café*", "x".repeat(129), `${"x".repeat(129)}*`, "room,1"];
  return [...valid.map((pattern) => ({ pattern, valid: true })), ...invalid.map((pattern) => ({ pattern, valid: false }))];
}

function grantVectors(): GrantVector[] {
  const grant = ["user:42", "room:*"];
  return [
    { name: "exact and prefix", patterns: grant, channels: ["user:42", "room:1", "room:lobby"] },
    { name: "a prefix matches the bare prefix", patterns: grant, channels: ["room:"] },
    { name: "a prefix is not a name", patterns: grant, channels: ["room:1", "room"], refused: "room" },
    { name: "an exact name is not a prefix", patterns: grant, channels: ["user:420"], refused: "user:420" },
    { name: "an exact name is not its start", patterns: grant, channels: ["user:4"], refused: "user:4" },
    { name: "case matters", patterns: grant, channels: ["ROOM:1"], refused: "ROOM:1" },
    { name: "the first refused is named", patterns: grant, channels: ["room:1", "admin", "other"], refused: "admin" },
    { name: "star alone grants every channel", patterns: ["*"], channels: ["a", "room:1", "x".repeat(128)] },
    { name: "an empty grant refuses", patterns: [], channels: ["room:1"], refused: "room:1" },
    { name: "no channels asked", patterns: [], channels: [] },
  ];
}

function hmacVectors(): HmacVector[] {
  // RFC 4231, test cases 1, 2 and 6 (a key longer than the block size).
  return [
    {
      name: "rfc 4231 case 1",
      keyHex: "0b".repeat(20),
      dataHex: hex("Hi There"),
      digestHex: "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
    },
    {
      name: "rfc 4231 case 2",
      keyHex: hex("Jefe"),
      dataHex: hex("what do ya want for nothing?"),
      digestHex: "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    },
    {
      name: "rfc 4231 case 6",
      keyHex: "aa".repeat(131),
      dataHex: hex("Test Using Larger Than Block-Size Key - Hash Key First"),
      digestHex: "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
    },
  ];
}

/** A token part: JSON text, or a value to serialize, as base64url of its UTF-8. */
function part(json: unknown): string {
  return Buffer.from(typeof json === "string" ? json : JSON.stringify(json), "utf8").toString("base64url");
}

function sign(signingInput: string, secret: string, hash = "sha256"): string {
  return createHmac(hash, Buffer.from(secret, "utf8")).update(signingInput).digest("base64url");
}

function token(header: unknown, payload: unknown, secret = CURRENT, hash = "sha256"): string {
  const signingInput = `${part(header)}.${part(payload)}`;
  return `${signingInput}.${sign(signingInput, secret, hash)}`;
}

const HS256 = { alg: "HS256", typ: "JWT" };
const SUBSCRIBER = { sub: "user:42", channels: ["user:42", "room:*"], iat: NOW - 60, exp: NOW + 3600 };
const SUBSCRIBER_CLAIMS: ExpectedClaims = { sub: "user:42", channels: ["user:42", "room:*"], publish: [], exp: NOW + 3600, iat: NOW - 60 };

/** A token of exactly `length` bytes, padded with an ignored claim. */
function tokenOfLength(length: number): string {
  for (let pad = 0; pad < length; pad++) {
    const candidate = token(HS256, { ...SUBSCRIBER, pad: "x".repeat(pad) });
    if (candidate.length === length) {
      return candidate;
    }
  }
  throw new Error(`no token of ${length} bytes`);
}

/** `text` with the character at `index` replaced by `replacement`. */
function replaceAt(text: string, index: number, replacement: string): string {
  return `${text.substring(0, index)}${replacement}${text.substring(index + 1)}`;
}

function tokenCases(): TokenVector[] {
  const ok = (name: string, tok: string, claims: ExpectedClaims, secrets?: string[]): TokenVector => ({
    name,
    token: tok,
    ...(secrets !== undefined ? { secrets } : {}),
    claims,
  });
  const refused = (name: string, tok: string, error: string, secrets?: string[]): TokenVector => ({
    name,
    token: tok,
    ...(secrets !== undefined ? { secrets } : {}),
    error,
  });

  const good = token(HS256, SUBSCRIBER);
  const [goodHeader, goodPayload, goodSignature] = good.split(".");
  const signedPayload = (payloadText: string): string => token(HS256, payloadText);
  const badPattern = (claim: string, position: number): string => `token ${claim} has an invalid pattern at position ${position}: ${PATTERN_ERROR}`;

  // The last signature character carries 2 unused bits (32 bytes = 42 characters and 4 bits);
  // setting one keeps the decoded bytes in a lax decoder.
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const unusedBitSet = alphabet[alphabet.indexOf(goodSignature[42]) | 1];
  const flippedFirst = goodSignature[0] === "A" ? "B" : "A";
  const otherPayload = part({ ...SUBSCRIBER, sub: "user:1", channels: ["*"] });

  return [
    // accepted
    ok("subscriber token", good, SUBSCRIBER_CLAIMS),
    ok("publisher token", token(HS256, { sub: "backend", channels: [], publish: ["room:*", "user:42"], exp: NOW + 60 }), {
      sub: "backend",
      channels: [],
      publish: ["room:*", "user:42"],
      exp: NOW + 60,
    }),
    ok("publish claim without channels claim", token(HS256, { sub: "backend", publish: ["*"], exp: NOW + 60 }), {
      sub: "backend",
      channels: [],
      publish: ["*"],
      exp: NOW + 60,
    }),
    ok("empty channels list", token(HS256, { sub: "nobody", channels: [], exp: NOW + 60 }), { sub: "nobody", channels: [], publish: [], exp: NOW + 60 }),
    ok("no typ", token({ alg: "HS256" }, SUBSCRIBER), SUBSCRIBER_CLAIMS),
    ok("typ in lower case", token({ alg: "HS256", typ: "jwt" }, SUBSCRIBER), SUBSCRIBER_CLAIMS),
    ok("kid and unknown header fields are ignored", token({ alg: "HS256", typ: "JWT", kid: "2024-01", x: [1, { y: null }] }, SUBSCRIBER), SUBSCRIBER_CLAIMS),
    ok("unknown claims are ignored", token(HS256, { ...SUBSCRIBER, iss: "app", aud: ["x"], extra: { a: null } }), SUBSCRIBER_CLAIMS),
    ok(
      "whitespace in the JSON",
      token(' { "alg" : "HS256" }\n', `{\n "sub": "user:42",\t"channels": [ "user:42", "room:*" ], "iat": ${NOW - 60}, "exp": ${NOW + 3600} }\r\n`),
      SUBSCRIBER_CLAIMS,
    ),
    ok("duplicate alg: the last one counts, as RFC 7515 allows", token('{"alg":"none","alg":"HS256"}', SUBSCRIBER), SUBSCRIBER_CLAIMS),
    ok("multi-byte sub", token(HS256, { ...SUBSCRIBER, sub: "søren ☃ 😀" }), { ...SUBSCRIBER_CLAIMS, sub: "søren ☃ 😀" }),
    ok(
      "escaped multi-byte sub",
      token(HS256, `{"sub":"s\\u00f8ren \\u2603 \\ud83d\\ude00","channels":["user:42","room:*"],"iat":${NOW - 60},"exp":${NOW + 3600}}`),
      { ...SUBSCRIBER_CLAIMS, sub: "søren ☃ 😀" },
    ),
    ok("expired, but within the leeway", token(HS256, { ...SUBSCRIBER, exp: NOW - LEEWAY_SECONDS + 1 }), {
      ...SUBSCRIBER_CLAIMS,
      exp: NOW - LEEWAY_SECONDS + 1,
    }),
    ok("not valid yet, but within the leeway", token(HS256, { ...SUBSCRIBER, nbf: NOW + LEEWAY_SECONDS }), { ...SUBSCRIBER_CLAIMS, nbf: NOW + LEEWAY_SECONDS }),
    ok("fractional times", token(HS256, { ...SUBSCRIBER, iat: NOW - 0.25, nbf: NOW - 0.5, exp: NOW + 0.5 }), {
      ...SUBSCRIBER_CLAIMS,
      iat: NOW - 0.25,
      nbf: NOW - 0.5,
      exp: NOW + 0.5,
    }),
    ok("rotation: signed with the previous secret", token(HS256, SUBSCRIBER, PREVIOUS), SUBSCRIBER_CLAIMS, [CURRENT, PREVIOUS]),
    ok("rotation: signed with the current secret", good, SUBSCRIBER_CLAIMS, [CURRENT, PREVIOUS]),
    ok("secret with multi-byte characters", token(HS256, SUBSCRIBER, MULTI_BYTE_SECRET), SUBSCRIBER_CLAIMS, [MULTI_BYTE_SECRET]),
    ok("exactly the size limit", tokenOfLength(MAX_TOKEN_BYTES), SUBSCRIBER_CLAIMS),

    // the shape of the token
    refused("empty token", "", "token is empty"),
    refused("one byte over the size limit", tokenOfLength(MAX_TOKEN_BYTES + 1), `token too large: the limit is ${MAX_TOKEN_BYTES} bytes`),
    refused("two parts", `${goodHeader}.${goodPayload}`, "token must have three parts separated by dots"),
    refused("one part", goodHeader, "token must have three parts separated by dots"),
    refused("an extra part", `${good}.${goodSignature}`, "token must have three parts separated by dots"),
    refused("five parts, like a JWE", `${goodHeader}..${goodPayload}.${goodSignature}.x`, "token must have three parts separated by dots"),
    refused("only dots", "..", "token header is empty"),
    refused("empty header", `.${goodPayload}.${goodSignature}`, "token header is empty"),
    refused("empty payload", `${goodHeader}..${goodSignature}`, "token payload is empty"),
    refused("empty signature", `${goodHeader}.${goodPayload}.`, "token has no signature"),
    refused("Bearer prefix left in", `Bearer ${good}`, "token header is not base64url: invalid base64url character at position 7"),
    refused(
      "header with a + of plain base64",
      `${replaceAt(goodHeader, 2, "+")}.${goodPayload}.${goodSignature}`,
      "token header is not base64url: invalid base64url character at position 3",
    ),
    refused(
      "header with padding",
      `${goodHeader}==.${goodPayload}.${goodSignature}`,
      "token header is not base64url: invalid base64url character at position 37",
    ),
    refused("header of an impossible length", `${goodHeader}A.${goodPayload}.${goodSignature}`, "token header is not base64url: invalid base64url length 37"),
    refused(
      "header with a multi-byte character",
      `${goodHeader.substring(0, 2)}é${goodHeader.substring(4)}.${goodPayload}.${goodSignature}`,
      "token header is not base64url: invalid base64url character at position 3",
    ),
    refused(
      "payload with a / of plain base64",
      `${goodHeader}.${replaceAt(goodPayload, 10, "/")}.${goodSignature}`,
      "token payload is not base64url: invalid base64url character at position 11",
    ),
    refused("trailing newline", `${good}\n`, "token signature does not match"),

    // the header
    refused("alg none, no signature", `${part({ alg: "none", typ: "JWT" })}.${goodPayload}.`, "token alg must be HS256, RS256 or ES256"),
    refused(
      "alg none, with the HS256 signature",
      `${part({ alg: "none", typ: "JWT" })}.${goodPayload}.${goodSignature}`,
      "token alg must be HS256, RS256 or ES256",
    ),
    refused("alg None", token({ alg: "None" }, SUBSCRIBER), "token alg must be HS256, RS256 or ES256"),
    refused("alg hs256 in lower case", token({ alg: "hs256" }, SUBSCRIBER), "token alg must be HS256, RS256 or ES256"),
    refused(
      "alg HS512, signed with HMAC-SHA512",
      token({ alg: "HS512", typ: "JWT" }, SUBSCRIBER, CURRENT, "sha512"),
      "token alg must be HS256, RS256 or ES256",
    ),
    refused("alg RS256 with an HMAC signature (key confusion)", token({ alg: "RS256", typ: "JWT" }, SUBSCRIBER), "token kid is required for RS256"),
    refused("alg ES256 with a kid, no public key configured", token({ alg: "ES256", typ: "JWT", kid: "k1" }, SUBSCRIBER), "token kid names no configured key"),
    refused("no alg", token({ typ: "JWT" }, SUBSCRIBER), "token alg must be HS256, RS256 or ES256"),
    refused("alg not a string", token({ alg: 256 }, SUBSCRIBER), "token alg must be HS256, RS256 or ES256"),
    refused("alg a list", token({ alg: ["HS256"] }, SUBSCRIBER), "token alg must be HS256, RS256 or ES256"),
    refused("typ not JWT", token({ alg: "HS256", typ: "at+jwt" }, SUBSCRIBER), "token typ must be JWT"),
    refused("typ not a string", token({ alg: "HS256", typ: 1 }, SUBSCRIBER), "token typ must be JWT"),
    refused("crit", token({ alg: "HS256", crit: ["b64"], b64: false }, SUBSCRIBER), "token header has crit: no extension is supported"),
    refused("header not JSON", token("not json", SUBSCRIBER), "token header is not JSON"),
    refused("header truncated JSON", token('{"alg":"HS256"', SUBSCRIBER), "token header is not JSON"),
    refused("header a JSON string", token('"HS256"', SUBSCRIBER), "token header is not a JSON object"),
    refused("header JSON null", token("null", SUBSCRIBER), "token header is not a JSON object"),
    refused("header a JSON list", token('["HS256"]', SUBSCRIBER), "token alg must be HS256, RS256 or ES256"),

    // the signature
    refused("tampered payload", `${goodHeader}.${otherPayload}.${goodSignature}`, "token signature does not match"),
    refused("tampered signature", `${goodHeader}.${goodPayload}.${flippedFirst}${goodSignature.substring(1)}`, "token signature does not match"),
    refused("truncated signature", `${goodHeader}.${goodPayload}.${goodSignature.substring(0, 42)}`, "token signature does not match"),
    refused("signature one byte short", `${goodHeader}.${goodPayload}.${goodSignature.substring(0, 40)}`, "token signature does not match"),
    refused(
      "signature with an unused bit set",
      `${goodHeader}.${goodPayload}.${goodSignature.substring(0, 42)}${unusedBitSet}`,
      "token signature does not match",
    ),
    refused(
      "signature in plain base64",
      `${goodHeader}.${goodPayload}.${Buffer.from(goodSignature, "base64url").toString("base64")}`,
      "token signature does not match",
    ),
    refused("signed with another secret", token(HS256, SUBSCRIBER, OTHER), "token signature does not match"),
    refused("rotation: previous secret no longer configured", token(HS256, SUBSCRIBER, PREVIOUS), "token signature does not match"),
    refused("no secret configured", good, "no token secret is configured", []),

    // the payload, signed with the right secret
    refused("payload not JSON", signedPayload("not json"), "token payload is not JSON"),
    refused("payload with NaN", signedPayload(`{"sub":"a","channels":[],"exp":NaN}`), "token payload is not JSON"),
    refused("payload with Infinity", signedPayload(`{"sub":"a","channels":[],"exp":Infinity}`), "token payload is not JSON"),
    refused("payload with a hex number", signedPayload(`{"sub":"a","channels":[],"exp":0x6553f100}`), "token payload is not JSON"),
    refused("payload with trailing text", signedPayload(`{"sub":"a","channels":[],"exp":${NOW + 60}} x`), "token payload is not JSON"),
    refused("payload JSON null", signedPayload("null"), "token payload is not a JSON object"),
    refused("payload a JSON number", signedPayload("42"), "token payload is not a JSON object"),

    // the claims
    refused("no exp", token(HS256, { sub: "a", channels: [] }), "token has no exp"),
    refused("exp a string", token(HS256, { sub: "a", channels: [], exp: `${NOW + 60}` }), "token exp must be a number"),
    refused("exp null", token(HS256, { sub: "a", channels: [], exp: null }), "token exp must be a number"),
    refused("exp too large to be finite", signedPayload(`{"sub":"a","channels":[],"exp":1e999}`), "token exp must be a number"),
    refused("nbf a string", token(HS256, { ...SUBSCRIBER, nbf: "now" }), "token nbf must be a number"),
    refused("iat a boolean", token(HS256, { ...SUBSCRIBER, iat: true }), "token iat must be a number"),
    refused("no sub", token(HS256, { channels: [], exp: NOW + 60 }), "token sub must be a non-empty string"),
    refused("sub a number", token(HS256, { sub: 42, channels: [], exp: NOW + 60 }), "token sub must be a non-empty string"),
    refused("sub empty", token(HS256, { sub: "", channels: [], exp: NOW + 60 }), "token sub must be a non-empty string"),
    refused("neither channels nor publish", token(HS256, { sub: "a", exp: NOW + 60 }), "token grants nothing: it has neither channels nor publish"),
    refused("channels a string", token(HS256, { sub: "a", channels: "room:1", exp: NOW + 60 }), "token channels must be a list of channel patterns"),
    refused("channels an object", token(HS256, { sub: "a", channels: { room: "1" }, exp: NOW + 60 }), "token channels must be a list of channel patterns"),
    refused("channels null", token(HS256, { sub: "a", channels: null, exp: NOW + 60 }), "token channels must be a list of channel patterns"),
    refused("channels with a number", token(HS256, { sub: "a", channels: ["room:1", 2], exp: NOW + 60 }), badPattern("channels", 2)),
    refused("channels with null", token(HS256, { sub: "a", channels: [null], exp: NOW + 60 }), badPattern("channels", 1)),
    refused("channels with a star inside", token(HS256, { sub: "a", channels: ["ro*om"], exp: NOW + 60 }), badPattern("channels", 1)),
    refused("channels with a multi-byte name", token(HS256, { sub: "a", channels: ["room:1", "café"], exp: NOW + 60 }), badPattern("channels", 2)),
    refused("channels with an empty name", token(HS256, { sub: "a", channels: [""], exp: NOW + 60 }), badPattern("channels", 1)),
    refused("publish a string", token(HS256, { sub: "a", publish: "*", exp: NOW + 60 }), "token publish must be a list of channel patterns"),
    refused("publish with a bad pattern", token(HS256, { sub: "a", channels: [], publish: ["room:*", "a b"], exp: NOW + 60 }), badPattern("publish", 2)),

    // time
    refused("expired, at the end of the leeway", token(HS256, { ...SUBSCRIBER, exp: NOW - LEEWAY_SECONDS }), "token expired"),
    refused("expired long ago", token(HS256, { ...SUBSCRIBER, iat: 1000, exp: 2000 }), "token expired"),
    refused("not valid yet", token(HS256, { ...SUBSCRIBER, nbf: NOW + LEEWAY_SECONDS + 1 }), "token not valid yet"),
  ];
}

/** Tokens minted by the SDK (sdk/token.ts), with the claims the gateway must read from them. */
function sdkCases(): TokenVector[] {
  const issued = NOW - 10;
  return [
    {
      name: "sdk: subscriber",
      token: mintToken({ sub: "user:42", channels: ["user:42", "room:*"], ttl: 600, now: issued }, CURRENT),
      claims: { sub: "user:42", channels: ["user:42", "room:*"], publish: [], exp: issued + 600, iat: issued },
    },
    {
      name: "sdk: publisher",
      token: mintToken({ sub: "backend", channels: [], publish: ["*"], ttl: 60, now: issued }, CURRENT),
      claims: { sub: "backend", channels: [], publish: ["*"], exp: issued + 60, iat: issued },
    },
    {
      name: "sdk: multi-byte sub, multi-byte secret",
      token: mintToken({ sub: "søren ☃ 😀", channels: ["user:soren"], ttl: 60, now: issued }, MULTI_BYTE_SECRET),
      secrets: [MULTI_BYTE_SECRET],
      claims: { sub: "søren ☃ 😀", channels: ["user:soren"], publish: [], exp: issued + 60, iat: issued },
    },
    {
      name: "sdk: expired",
      token: mintToken({ sub: "user:42", channels: ["user:42"], ttl: 1, now: NOW - LEEWAY_SECONDS - 1 }, CURRENT),
      error: "token expired",
    },
  ];
}

const ISSUER = "https://id.example";
const AUDIENCE = "pushgate";
const SIGNED_PAYLOAD = { ...SUBSCRIBER, iss: ISSUER, aud: AUDIENCE };

/** The ES256 tokens of the committed file, by case name (ECDSA signatures differ at each signing). */
function committedTokens(): Map<string, string> {
  const found = new Map<string, string>();
  if (existsSync(VECTORS_PATH)) {
    const old = JSON.parse(readFileSync(VECTORS_PATH, "utf8")) as Partial<JwtVectors>;
    for (const v of old.signed?.cases ?? []) {
      found.set(v.name, v.token);
    }
  }
  return found;
}

/** `minted`, or the committed token of `name` when it signs the same text and verifies under `keyName`. */
function stable(committed: Map<string, string>, name: string, minted: string, keyName: string): string {
  const old = committed.get(name);
  const signed = (tok: string): string => tok.substring(0, tok.lastIndexOf("."));
  if (old === undefined || signed(old) !== signed(minted)) {
    return minted;
  }
  const publicKey = createPublicKey(createPrivateKey(keyFile(`${keyName}.key.pem`)));
  const signature = Buffer.from(old.substring(old.lastIndexOf(".") + 1), "base64url");
  const ok = verify("sha256", Buffer.from(signed(old)), { key: publicKey, dsaEncoding: "ieee-p1363" }, signature);
  return ok ? old : minted;
}

function signedCases(): TokenVector[] {
  const committed = committedTokens();
  const cases: TokenVector[] = [];
  const add = (name: string, tok: string, expected: ExpectedClaims | string): void => {
    cases.push(typeof expected === "string" ? { name, token: tok, error: expected } : { name, token: tok, claims: expected });
  };
  const families: Array<{ alg: "RS256" | "ES256"; kid: string; other: string; from: string }> = [
    { alg: "RS256", kid: "rsa-1", other: "rsa-other", from: "pem" },
    { alg: "ES256", kid: "ec-1", other: "ec-other", from: "pem" },
    { alg: "RS256", kid: "rsa-jwk", other: "rsa-other", from: "jwks" },
    { alg: "ES256", kid: "ec-jwk", other: "ec-other", from: "jwks" },
  ];
  for (const { alg, kid, other, from } of families) {
    const mint = (name: string, keyName: string, header: object, payload: object | string, expected: ExpectedClaims | string): void => {
      const full = `${alg} ${from}: ${name}`;
      const minted = mintSigned(alg, keyName, header, payload);
      add(full, alg === "ES256" ? stable(committed, full, minted, keyName) : minted, expected);
    };
    mint("valid", kid, { kid }, SIGNED_PAYLOAD, SUBSCRIBER_CLAIMS);
    mint("aud a list holding the audience", kid, { kid }, { ...SIGNED_PAYLOAD, aud: ["other", AUDIENCE] }, SUBSCRIBER_CLAIMS);
    mint("wrong key", other, { kid }, SIGNED_PAYLOAD, "token signature does not match");
    mint("wrong kid", kid, { kid: `${kid}-unknown` }, SIGNED_PAYLOAD, "token kid names no configured key");
    mint("no kid", kid, {}, SIGNED_PAYLOAD, `token kid is required for ${alg}`);
    mint("wrong aud", kid, { kid }, { ...SIGNED_PAYLOAD, aud: "another-service" }, "token aud does not name the configured audience");
    mint("aud a list without the audience", kid, { kid }, { ...SIGNED_PAYLOAD, aud: ["a", "b"] }, "token aud does not name the configured audience");
    mint("no aud", kid, { kid }, { ...SUBSCRIBER, iss: ISSUER }, "token aud does not name the configured audience");
    mint("wrong iss", kid, { kid }, { ...SIGNED_PAYLOAD, iss: "https://evil.example" }, "token iss is not the configured issuer");
    mint("no iss", kid, { kid }, { ...SUBSCRIBER, aud: AUDIENCE }, "token iss is not the configured issuer");
    mint("expired", kid, { kid }, { ...SIGNED_PAYLOAD, exp: NOW - LEEWAY_SECONDS }, "token expired");
    const [validHeader, , validSignature] = (cases.find((v) => v.name === `${alg} ${from}: valid`)?.token ?? "").split(".");
    add(
      `${alg} ${from}: tampered payload`,
      `${validHeader}.${part({ ...SIGNED_PAYLOAD, channels: ["*"] })}.${validSignature}`,
      "token signature does not match",
    );
  }
  const good = (name: string): string => cases.find((v) => v.name === name)?.token ?? "";
  const [esHeader, esPayload, esSignature] = good("ES256 pem: valid").split(".");
  const raw = Buffer.from(esSignature, "base64url");
  const asDer = (bytes: Buffer): Buffer => {
    const int = (b: Buffer): Buffer => {
      let i = 0;
      while (i < b.length - 1 && b[i] === 0) i++;
      const t = b.subarray(i);
      return t[0] >= 0x80 ? Buffer.concat([Buffer.from([0]), t]) : t;
    };
    const r = int(bytes.subarray(0, 32));
    const q = int(bytes.subarray(32));
    return Buffer.concat([Buffer.from([0x30, r.length + q.length + 4, 2, r.length]), r, Buffer.from([2, q.length]), q]);
  };
  const hmacWith = (header: object, secret: string): string => {
    const input = `${part(header)}.${part(SIGNED_PAYLOAD)}`;
    return `${input}.${sign(input, secret)}`;
  };
  add("ES256 signature in DER form is refused", `${esHeader}.${esPayload}.${asDer(raw).toString("base64url")}`, "token signature does not match");
  add("ES256 signature one byte short", `${esHeader}.${esPayload}.${raw.subarray(0, 63).toString("base64url")}`, "token signature does not match");
  const confused = "RS256 header on an EC key";
  add(
    confused,
    stable(committed, confused, mintSigned("ES256", "ec-1", { alg: "RS256", kid: "ec-1" }, SIGNED_PAYLOAD), "ec-1"),
    "token alg RS256 does not match its key, which is for ES256",
  );
  add(
    "ES256 header on an RSA key",
    mintSigned("RS256", "rsa-1", { alg: "ES256", kid: "rsa-1" }, SIGNED_PAYLOAD),
    "token alg ES256 does not match its key, which is for RS256",
  );
  add(
    "key confusion: RS256 signed by HMAC with the public PEM as secret",
    hmacWith({ alg: "RS256", typ: "JWT", kid: "rsa-1" }, keyFile("rsa-1.pem")),
    "token signature does not match",
  );
  add(
    "key confusion: HS256 signed with the public PEM as secret",
    hmacWith({ alg: "HS256", typ: "JWT", kid: "rsa-1" }, keyFile("rsa-1.pem")),
    "token signature does not match",
  );
  add(
    "a skipped JWKS key (use enc) is no key",
    mintSigned("RS256", "rsa-other", { kid: "rsa-encryption" }, SIGNED_PAYLOAD),
    "token kid names no configured key",
  );
  add("HS256 beside public keys, iss and aud right", hmacWith(HS256, CURRENT), SUBSCRIBER_CLAIMS);
  add("HS256: iss and aud apply too", token(HS256, SUBSCRIBER), "token iss is not the configured issuer");
  add("alg PS256 is refused", mintSigned("RS256", "rsa-1", { alg: "PS256", kid: "rsa-1" }, SIGNED_PAYLOAD), "token alg must be HS256, RS256 or ES256");
  return cases;
}

function derVectors(): DerVector[] {
  const jwks = JSON.parse(keyFile("jwks.json")) as { keys: Array<Record<string, string>> };
  const spki = (jwk: Record<string, string>): string =>
    createPublicKey({ key: jwk as unknown as import("node:crypto").JsonWebKey, format: "jwk" })
      .export({ type: "spki", format: "der" })
      .toString("hex");
  const raw = (r: string, s2: string): string => `${r}${s2}`;
  const high = "ff".repeat(32);
  const low = `0000${"01".repeat(30)}`;
  return [
    { name: "rsa jwk", jwk: jwks.keys[0], derHex: spki(jwks.keys[0]) },
    { name: "p-256 jwk", jwk: jwks.keys[1], derHex: spki(jwks.keys[1]) },
    {
      name: "rsa jwk, modulus with a leading zero byte",
      jwk: { ...jwks.keys[0], n: Buffer.concat([Buffer.from([0]), Buffer.from(jwks.keys[0].n, "base64url")]).toString("base64url") },
      derHex: spki(jwks.keys[0]),
    },
    { name: "es256: both halves with the high bit", rawHex: raw(high, high), derHex: `3046022100${high}022100${high}` },
    { name: "es256: leading zeros dropped", rawHex: raw(low, high), derHex: `3043021e${"01".repeat(30)}022100${high}` },
    { name: "es256: zero", rawHex: "00".repeat(64), derHex: "3006020100020100" },
    { name: "es256: 63 bytes", rawHex: "01".repeat(63) },
    { name: "es256: 65 bytes", rawHex: "01".repeat(65) },
  ];
}

function keyRingVectors(): KeyRingVector[] {
  const pems = [
    { kid: "rsa-1", pem: keyFile("rsa-1.pem") },
    { kid: "ec-1", pem: keyFile("ec-1.pem") },
  ];
  const jwks = keyFile("jwks.json");
  const withKeys = (keys: unknown[]): string => JSON.stringify({ keys });
  const rsa = (JSON.parse(jwks) as { keys: Array<Record<string, string>> }).keys[0];
  const ec = (JSON.parse(jwks) as { keys: Array<Record<string, string>> }).keys[1];
  return [
    { name: "pem files and a jwks with keys to skip", pems, jwks: [jwks], kids: ["ec-1:ES256", "ec-jwk:ES256", "rsa-1:RS256", "rsa-jwk:RS256"] },
    { name: "nothing", pems: [], jwks: [], kids: [] },
    {
      name: "an RSA key of 1024 bits",
      pems: [{ kid: "small", pem: keyFile("rsa-small.pem") }],
      jwks: [],
      error: "public key small: an RSA key of 1024 bits is too small: at least 2048",
    },
    {
      name: "a P-384 key",
      pems: [{ kid: "p384", pem: keyFile("ec-p384.pem") }],
      jwks: [],
      error: "public key p384: an EC key must be on the P-256 curve (ES256)",
    },
    {
      name: "a private key",
      pems: [{ kid: "private", pem: keyFile("rsa-other.key.pem") }],
      jwks: [],
      error: "public key private: not a PEM public key (-----BEGIN PUBLIC KEY-----)",
    },
    { name: "not a pem", pems: [{ kid: "junk", pem: "hello" }], jwks: [], error: "public key junk: not a PEM public key (-----BEGIN PUBLIC KEY-----)" },
    { name: "a kid twice", pems: [pems[0], pems[0]], jwks: [], error: "public key rsa-1: the kid is given twice" },
    {
      name: "a pem kid again in the jwks",
      pems: [{ kid: "rsa-jwk", pem: keyFile("rsa-1.pem") }],
      jwks: [jwks],
      error: "jwks key rsa-jwk: the kid is given twice",
    },
    { name: "jwks not JSON", pems: [], jwks: ["{"], error: "jwks is not a JSON object" },
    { name: "jwks without keys", pems: [], jwks: ['{"keys":1}'], error: "jwks has no keys list" },
    { name: "jwks key without kid", pems: [], jwks: [withKeys([{ ...rsa, kid: undefined }])], error: "jwks has a RS256 key without kid" },
    { name: "jwks RSA key without n", pems: [], jwks: [withKeys([{ ...rsa, n: undefined }])], error: "jwks key rsa-jwk: n must be a base64url string" },
    { name: "jwks EC key with a short x", pems: [], jwks: [withKeys([{ ...ec, x: "AAAA" }])], error: "jwks key ec-jwk: x and y must be 32 bytes each" },
    { name: "jwks EC key with a bad y", pems: [], jwks: [withKeys([{ ...ec, y: "a+b" }])], error: "jwks key ec-jwk: y is not base64url" },
    { name: "jwks EC point not on the curve", pems: [], jwks: [withKeys([{ ...ec, y: ec.x }])], error: "jwks key ec-jwk: openssl does not take the key" },
  ];
}

export function buildJwtVectors(): JwtVectors {
  return {
    base64url: base64urlVectors(),
    patterns: patternVectors(),
    grants: grantVectors(),
    hmac: hmacVectors(),
    tokens: {
      now: NOW,
      leewaySeconds: LEEWAY_SECONDS,
      maxTokenBytes: MAX_TOKEN_BYTES,
      secrets: [CURRENT],
      cases: [...tokenCases(), ...sdkCases()],
    },
    der: derVectors(),
    keyrings: keyRingVectors(),
    signed: {
      now: NOW,
      leewaySeconds: LEEWAY_SECONDS,
      maxTokenBytes: MAX_TOKEN_BYTES,
      secrets: [CURRENT],
      issuer: ISSUER,
      audience: AUDIENCE,
      pems: [
        { kid: "rsa-1", pem: keyFile("rsa-1.pem") },
        { kid: "ec-1", pem: keyFile("ec-1.pem") },
      ],
      jwks: [keyFile("jwks.json")],
      cases: signedCases(),
    },
  };
}

/** The file's text: the same layout as the other vector files. */
export function jwtVectorsText(): string {
  return `${JSON.stringify(buildJwtVectors(), null, 1)}\n`;
}

if (require.main === module) {
  writeFileSync(VECTORS_PATH, jwtVectorsText());
  console.log(`wrote ${VECTORS_PATH}`);
}
