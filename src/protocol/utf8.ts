// UTF-8 validation of a byte string (RFC 3629: no overlong forms, no surrogates, at most
// U+10FFFF). Pure: in Lua a string is bytes; Node passes bytes as a latin1 string (one char per
// byte), so both runtimes run the same code on the same bytes.

/** True when `bytes` is well-formed UTF-8. */
export function isUtf8(bytes: string): boolean {
  const length = bytes.length;
  let i = 0;
  while (i < length) {
    const first = bytes.charCodeAt(i);
    if (first < 0x80) {
      i += 1;
      continue;
    }
    let need: number;
    let min = 0x80;
    let max = 0xbf;
    if (first >= 0xc2 && first <= 0xdf) {
      need = 1;
    } else if (first >= 0xe0 && first <= 0xef) {
      need = 2;
      if (first === 0xe0) {
        min = 0xa0; // overlong below U+0800
      } else if (first === 0xed) {
        max = 0x9f; // surrogates U+D800..U+DFFF
      }
    } else if (first >= 0xf0 && first <= 0xf4) {
      need = 3;
      if (first === 0xf0) {
        min = 0x90; // overlong below U+10000
      } else if (first === 0xf4) {
        max = 0x8f; // above U+10FFFF
      }
    } else {
      return false;
    }
    if (i + need > length - 1) {
      return false;
    }
    const second = bytes.charCodeAt(i + 1);
    if (second < min || second > max) {
      return false;
    }
    for (let k = 2; k <= need; k++) {
      const next = bytes.charCodeAt(i + k);
      if (next < 0x80 || next > 0xbf) {
        return false;
      }
    }
    i += need + 1;
  }
  return true;
}
