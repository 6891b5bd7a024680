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
