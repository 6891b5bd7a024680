// Node's half of token work, the counterpart of src/host/crypto.ts in nginx: HMAC-SHA256 from
// node:crypto and JSON.parse, shaped as src/auth/jwt.ts takes them, and the conversions between
// text and the byte strings the pure modules work on (see src/auth/base64url.ts).

import "../src/cli/multi";
import { createHmac } from "node:crypto";

/** Text as a byte string: its UTF-8 bytes, one character (0..255) per byte. */
export function utf8ToBytes(text: string): string {
  return Buffer.from(text, "utf8").toString("latin1");
}

/** A byte string holding UTF-8 as text. */
export function bytesToUtf8(bytes: string): string {
  return Buffer.from(bytes, "latin1").toString("utf8");
}

/** HMAC-SHA256 of the byte string `data` under the secret `key` (text, hashed as UTF-8). */
export function hmacSha256(this: void, key: string, data: string): string {
  return createHmac("sha256", Buffer.from(key, "utf8")).update(Buffer.from(data, "latin1")).digest().toString("latin1");
}

/** Decodes UTF-8 JSON held in a byte string. Returns the value, or undefined and the reason. */
export function decodeJson(this: void, text: string): LuaMultiReturn<[unknown] | [undefined, string]> {
  try {
    return $multi(JSON.parse(bytesToUtf8(text)) as unknown);
  } catch (e) {
    return $multi(undefined, `failed to decode json: ${(e as Error).message}`);
  }
}
