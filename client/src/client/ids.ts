// Message ids and cursors as the gateway hands them out. An id is "<ms>-<seq>" (a Redis stream
// entry id, monotonic per channel), compared numerically part by part; a cursor is one id, or
// "oldest", or one position per channel: "a=<id>,b=<id>".

/** The id before every message: resuming after it replays all kept history. */
export const OLDEST_ID = "0-0";

const ID = /^(\d{1,15})-(\d{1,10})$/;

export function isValidId(id: string): boolean {
  return ID.test(id);
}

/** Negative when a < b, 0 when equal, positive when a > b (both valid ids). */
export function compareIds(a: string, b: string): number {
  const [msA, seqA] = a.split("-").map(Number);
  const [msB, seqB] = b.split("-").map(Number);
  return msA !== msB ? msA - msB : seqA - seqB;
}

/**
 * The positions a cursor gives to `channels`: one id (or "oldest") for each, or those a
 * compound cursor names (other names are left out). Undefined when the cursor is malformed.
 */
export function parseCursor(cursor: string, channels: readonly string[]): Map<string, string> | undefined {
  const positions = new Map<string, string>();
  if (cursor === "oldest" || isValidId(cursor)) {
    for (const channel of channels) {
      positions.set(channel, cursor === "oldest" ? OLDEST_ID : cursor);
    }
    return positions;
  }
  for (const part of cursor.split(",")) {
    const eq = part.indexOf("=");
    const id = part.substring(eq + 1);
    if (eq <= 0 || !isValidId(id)) {
      return undefined;
    }
    const channel = part.substring(0, eq);
    if (channels.includes(channel)) {
      positions.set(channel, id);
    }
  }
  return positions;
}

/** "a=<id>,b=<id>" over the channels that have a position, in `channels` order; "" if none. */
export function formatCursor(channels: readonly string[], positions: ReadonlyMap<string, string>): string {
  const parts: string[] = [];
  for (const channel of channels) {
    const id = positions.get(channel);
    if (id !== undefined) {
      parts.push(`${channel}=${id}`);
    }
  }
  return parts.join(",");
}

/** Moves `channel` to `id` in `positions` when that is further on; true if it moved. */
export function advance(positions: Map<string, string>, channel: string, id: string): boolean {
  const current = positions.get(channel);
  if (current !== undefined && compareIds(id, current) <= 0) {
    return false;
  }
  positions.set(channel, id);
  return true;
}
