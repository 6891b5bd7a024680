// JSON string encoding in nginx: cjson, with forward slashes left as they are so the bytes match
// JSON.stringify (Debian's lua-cjson has no encode_escape_forward_slash switch).

import * as cjson from "cjson";

/** Encodes `text` as a JSON string literal. The payload's bytes pass through unchanged. */
export function quoteJson(this: void, text: string): string {
  const [encoded] = string.gsub(cjson.encode(text), "\\/", "/");
  return encoded;
}
