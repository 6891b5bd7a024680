// Redis Cluster hash slots: CRC16 (XMODEM: polynomial 0x1021, initial value 0, no reflection) of
// the key's bytes, mod 16384, over the hash tag when the key has one (the Redis Cluster
// specification, "Keys hash tags"). Pure: in Lua a string is bytes; Node passes the key's UTF-8
// bytes as a latin1 string (one character per byte, e.g. Buffer.from(key).toString("latin1")),
// so both runtimes run the same code on the same bytes. Under LuaJIT the bitwise operators
// compile to the `bit` library, whose results are signed 32-bit: every value here stays below
// 2^16, so they are never negative.

/** Number of hash slots in a Redis Cluster. */
export const SLOT_COUNT = 16384;

const OPEN_BRACE = 0x7b; // {
const CLOSE_BRACE = 0x7d; // }

/** CRC16 of every byte value, shifted in from the top: crc' = (crc << 8) ^ TABLE[(crc >> 8) ^ byte]. */
function crc16Table(): number[] {
  const table: number[] = [];
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte << 8;
    for (let bit = 0; bit < 8; bit++) {
      crc = (crc & 0x8000) !== 0 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
    table.push(crc);
  }
  return table;
}

const CRC16_TABLE = crc16Table();

/** CRC16/XMODEM of the bytes of `bytes` at 0-based positions [from, to). */
export function crc16(bytes: string, from = 0, to = bytes.length): number {
  let crc = 0;
  for (let i = from; i < to; i++) {
    crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[((crc >>> 8) ^ bytes.charCodeAt(i)) & 0xff];
  }
  return crc;
}

/**
 * The hash slot (0..16383) of a key given as bytes. When the key has a `{` and, after it, a `}`
 * with at least one byte between them, only the bytes between the first `{` and the first `}`
 * after it are hashed; otherwise (no tag, or an empty `{}` first) the whole key is.
 */
export function keySlot(bytes: string): number {
  const length = bytes.length;
  let open = -1;
  for (let i = 0; i < length; i++) {
    if (bytes.charCodeAt(i) === OPEN_BRACE) {
      open = i;
      break;
    }
  }
  if (open >= 0) {
    for (let i = open + 1; i < length; i++) {
      if (bytes.charCodeAt(i) === CLOSE_BRACE) {
        if (i > open + 1) {
          return crc16(bytes, open + 1, i) & (SLOT_COUNT - 1);
        }
        break;
      }
    }
  }
  return crc16(bytes, 0, length) & (SLOT_COUNT - 1);
}
