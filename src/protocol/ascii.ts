// Byte-level checks on ASCII text, shared by the pure modules (TSTL has no regular expressions).

/** True when `s` is 1 to `maxLength` ASCII digits. */
export function isDigits(s: string, maxLength = 64): boolean {
  if (s.length === 0 || s.length > maxLength) {
    return false;
  }
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) {
      return false;
    }
  }
  return true;
}

/** A decimal number written as digits with an optional fraction ("2", "0.5"), within [min, max]; else undefined. */
export function numberIn(raw: string, min: number, max: number): number | undefined {
  const [whole, fraction, extra] = raw.split(".");
  if (extra !== undefined || !isDigits(whole) || (fraction !== undefined && !isDigits(fraction))) {
    return undefined;
  }
  const n = Number(raw);
  return n >= min && n <= max ? n : undefined;
}
