// Message ids and cursors. A message id is the id of the Redis stream entry that keeps the
// message: "<milliseconds>-<sequence>", from Redis's clock, monotonic per channel. A cursor says
// where a subscriber resumes: one id for every channel ("1700000000000-0"), `oldest` (all kept
// history), or one position per channel ("a=1700000000000-0,b=1700000000005-2"), which streams
// with several channels hand out with each message. Pure logic, run in nginx and in Node.

import { isDigits } from "./ascii";

/** The id before every message: resuming from it replays all kept history. */
export const OLDEST_ID = "0-0";

/** True for "<ms>-<seq>" with at most 15 and 10 digits. */
export function isValidId(id: string): boolean {
  const dash = id.indexOf("-");
  return dash > 0 && isDigits(id.substring(0, dash), 15) && isDigits(id.substring(dash + 1), 10);
}

/** Orders two valid ids: negative when a < b, 0 when equal, positive when a > b. */
export function compareIds(a: string, b: string): number {
  const dashA = a.indexOf("-");
  const dashB = b.indexOf("-");
  const msA = Number(a.substring(0, dashA));
  const msB = Number(b.substring(0, dashB));
  if (msA !== msB) {
    return msA < msB ? -1 : 1;
  }
  const seqA = Number(a.substring(dashA + 1));
  const seqB = Number(b.substring(dashB + 1));
  if (seqA === seqB) {
    return 0;
  }
  return seqA < seqB ? -1 : 1;
}

/**
 * Parses a cursor for a stream of `channels`. Returns the position per channel (channels a
 * compound cursor does not name get none: they start live), or undefined and a 400 message.
 */
export function parseCursor(raw: string, channels: string[]): LuaMultiReturn<[Record<string, string>] | [undefined, string]> {
  const positions: Record<string, string> = {};
  if (raw === "oldest" || isValidId(raw)) {
    const id = raw === "oldest" ? OLDEST_ID : raw;
    for (const channel of channels) {
      positions[channel] = id;
    }
    return $multi(positions);
  }
  if (raw.indexOf("=") < 0) {
    return $multi(undefined, `invalid cursor: use a message id like 1700000000000-0, "oldest", or channel=id,channel=id`);
  }
  const subscribed: Record<string, boolean> = {};
  for (const channel of channels) {
    subscribed[channel] = true;
  }
  for (const part of raw.split(",")) {
    const eq = part.indexOf("=");
    const channel = eq > 0 ? part.substring(0, eq) : "";
    const id = eq > 0 ? part.substring(eq + 1) : "";
    if (!isValidId(id)) {
      return $multi(undefined, `invalid cursor: "${part}" is not channel=id`);
    }
    if (subscribed[channel] !== true) {
      return $multi(undefined, `invalid cursor: it names a channel this request does not subscribe to`);
    }
    positions[channel] = id;
  }
  return $multi(positions);
}

/**
 * The positions a WebSocket hello asks for: a compound cursor names its channels; a single id or
 * `oldest` applies to `subscribed`; `byChannel` adds positions by name. Returns them, or
 * undefined and a message.
 */
export function helloPositions(
  cursor: string | undefined,
  byChannel: Record<string, string> | undefined,
  subscribed: string[],
): LuaMultiReturn<[Record<string, string>] | [undefined, string]> {
  const positions: Record<string, string> = {};
  if (cursor !== undefined) {
    let names = subscribed;
    if (cursor.indexOf("=") >= 0) {
      names = [];
      for (const part of cursor.split(",")) {
        names.push(part.substring(0, math_max0(part.indexOf("="))));
      }
    }
    const [parsed, err] = parseCursor(cursor, names);
    if (parsed === undefined) {
      return $multi(undefined, err);
    }
    for (const name of Object.keys(parsed)) {
      positions[name] = parsed[name];
    }
  }
  if (byChannel !== undefined) {
    for (const name of Object.keys(byChannel)) {
      const id = byChannel[name];
      if (!isValidId(id)) {
        return $multi(undefined, `invalid cursor: "${name}" has no message id`);
      }
      positions[name] = id;
    }
  }
  return $multi(positions);
}

function math_max0(n: number): number {
  return n < 0 ? 0 : n;
}

/**
 * The compound cursor "a=id,b=id" of the channels that have a position, in `channels` order; with
 * `fallback`, a channel without a position has that one.
 */
export function formatCursor(channels: readonly string[], positions: Record<string, string>, fallback?: string): string {
  const parts: string[] = [];
  for (const channel of channels) {
    const id = positions[channel] ?? fallback;
    if (id !== undefined) {
      parts.push(`${channel}=${id}`);
    }
  }
  return parts.join(",");
}
