// JSON string encoding in nginx: cjson, adjusted to give the bytes JSON.stringify gives, so the
// framing is the same in both runtimes: forward slashes stay bare (Debian's lua-cjson has no
// encode_escape_forward_slash switch) and DEL stays a raw byte instead of \u007f.

import * as cjson from "cjson";

/** `\u007f` preceded by an odd number of backslashes is cjson's escape of DEL; even is literal text. */
function unescapeDel(this: void, backslashes: string): string {
  return backslashes.length % 2 === 1 ? `${string.sub(backslashes, 2)}\x7f` : `${backslashes}u007f`;
}

/** Encodes `text` as a JSON string literal. The payload's bytes pass through unchanged. */
export function quoteJson(this: void, text: string): string {
  let [encoded] = string.gsub(cjson.encode(text), "\\/", "/");
  if (string.find(encoded, "u007f", 1, true)[0] !== undefined) {
    [encoded] = string.gsub(encoded, "(\\+)u007f", unescapeDel);
  }
  return encoded;
}
