// Comparing secrets without telling an attacker, through the time it takes, how many leading
// bytes were right. Pure logic, compiled to Lua for nginx and run by Node.

/**
 * True when the byte strings `a` and `b` are equal. The time depends on the length only: every
 * byte is compared, whatever the first difference. Lengths are not secret (a signature is always
 * 32 bytes; a key's length says little).
 */
export function constantTimeEquals(a: string, b: string): boolean {
  const length = a.length;
  if (length !== b.length) {
    return false;
  }
  let difference = 0;
  for (let i = 0; i < length; i++) {
    difference = difference | (a.charCodeAt(i) ^ b.charCodeAt(i));
  }
  return difference === 0;
}
