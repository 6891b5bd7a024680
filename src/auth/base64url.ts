// base64url without padding (RFC 4648 §5), the encoding of the three parts of a JWT. Pure logic,
// compiled to Lua for nginx and run by Node for the SDK and jest.
//
// Byte strings: both functions work on strings whose characters are bytes. In Lua every string
// is one. In Node a byte string is a string whose char codes are all 0..255, one per byte (what
// Buffer's "latin1" encoding reads and writes): `Buffer.from(bytes, "latin1")` and
// `buffer.toString("latin1")` convert. Text goes through UTF-8 first, so "é" is the two
// characters "\xc3\xa9" in both runtimes, and both hash and compare the same bytes.
//
// The decoder is strict: no padding, no characters outside A-Z a-z 0-9 - _, no length that no
// encoder produces (4n+1), and the unused low bits of the last character must be zero. So every
// byte string has exactly one accepted encoding, and a signature cannot be altered in its unused
// bits and still pass.

/** The 6-bit value of a base64url character code, or -1 for any other code. */
function sextet(code: number): number {
  if (code >= 65 && code <= 90) {
    return code - 65; // A-Z: 0..25
  }
  if (code >= 97 && code <= 122) {
    return code - 71; // a-z: 26..51
  }
  if (code >= 48 && code <= 57) {
    return code + 4; // 0-9: 52..61
  }
  if (code === 45) {
    return 62; // -
  }
  if (code === 95) {
    return 63; // _
  }
  return -1;
}

/** The character code of a 6-bit value (the inverse of sextet). */
function letter(value: number): number {
  if (value < 26) {
    return value + 65;
  }
  if (value < 52) {
    return value + 71;
  }
  if (value < 62) {
    return value - 4;
  }
  return value === 62 ? 45 : 95;
}

/** The 6-bit value of the character at `index`, or -1. */
function sextetAt(text: string, index: number): number {
  return sextet(text.charCodeAt(index));
}

/** The reason `text` is not base64url, for a text in which decoding found a bad character. */
function badCharacter(text: string): string {
  for (let i = 0; i < text.length; i++) {
    if (sextetAt(text, i) < 0) {
      return `invalid base64url character at position ${i + 1}`;
    }
  }
  return "invalid base64url character";
}

/**
 * Decodes unpadded base64url into a byte string (see the top of this file).
 * Returns the bytes, or undefined and the reason the text is not base64url.
 */
export function decodeBase64Url(text: string): LuaMultiReturn<[string] | [undefined, string]> {
  const length = text.length;
  const tail = length % 4;
  if (tail === 1) {
    return $multi(undefined, `invalid base64url length ${length}`);
  }
  const whole = length - tail;
  const parts: string[] = [];
  for (let i = 0; i < whole; i += 4) {
    const a = sextetAt(text, i);
    const b = sextetAt(text, i + 1);
    const c = sextetAt(text, i + 2);
    const d = sextetAt(text, i + 3);
    // -1 has every bit set, so one bad character makes the union negative.
    if ((a | b | c | d) < 0) {
      return $multi(undefined, badCharacter(text));
    }
    const group = (a << 18) | (b << 12) | (c << 6) | d;
    parts.push(String.fromCharCode(group >> 16, (group >> 8) & 255, group & 255));
  }
  if (tail === 2) {
    const a = sextetAt(text, whole);
    const b = sextetAt(text, whole + 1);
    if ((a | b) < 0) {
      return $multi(undefined, badCharacter(text));
    }
    if ((b & 15) !== 0) {
      return $multi(undefined, "invalid base64url: the unused bits of the last character are not zero");
    }
    parts.push(String.fromCharCode((a << 2) | (b >> 4)));
  } else if (tail === 3) {
    const a = sextetAt(text, whole);
    const b = sextetAt(text, whole + 1);
    const c = sextetAt(text, whole + 2);
    if ((a | b | c) < 0) {
      return $multi(undefined, badCharacter(text));
    }
    if ((c & 3) !== 0) {
      return $multi(undefined, "invalid base64url: the unused bits of the last character are not zero");
    }
    const group = (a << 10) | (b << 4) | (c >> 2);
    parts.push(String.fromCharCode(group >> 8, group & 255));
  }
  return $multi(parts.join(""));
}

/** The byte at `index` of a byte string; raises on a character above 255 (a Node caller's misuse). */
function byteAt(bytes: string, index: number): number {
  const code = bytes.charCodeAt(index);
  if (code > 255) {
    throw `encodeBase64Url takes a byte string: the character at position ${index + 1} is not a byte`;
  }
  return code;
}

/** Encodes a byte string (see the top of this file) as unpadded base64url. */
export function encodeBase64Url(bytes: string): string {
  const length = bytes.length;
  const tail = length % 3;
  const whole = length - tail;
  const parts: string[] = [];
  for (let i = 0; i < whole; i += 3) {
    const group = (byteAt(bytes, i) << 16) | (byteAt(bytes, i + 1) << 8) | byteAt(bytes, i + 2);
    parts.push(String.fromCharCode(letter(group >> 18), letter((group >> 12) & 63), letter((group >> 6) & 63), letter(group & 63)));
  }
  if (tail === 1) {
    const group = byteAt(bytes, whole);
    parts.push(String.fromCharCode(letter(group >> 2), letter((group & 3) << 4)));
  } else if (tail === 2) {
    const group = (byteAt(bytes, whole) << 8) | byteAt(bytes, whole + 1);
    parts.push(String.fromCharCode(letter(group >> 10), letter((group >> 4) & 63), letter((group & 15) << 2)));
  }
  return parts.join("");
}
