// Read state in Redis: each user's read position per channel, kept in the channel's read hash
// (pushgate:{<channel>}:read, field: the user, in the channel's cluster slot). pushgate_ack in
// redis/pushgate.lua moves it forward only, and never past the channel's last message; the
// positions a stream without a cursor resumes from; and how many kept messages come after them
// (pushgate_unread). Read positions kept before this layout (pushgate:read:<user>) are not read.

import type { Settings } from "../config/schema";
import { Failure, UNAVAILABLE } from "../protocol/failure";
import { metaKey, readKey, streamKey } from "../protocol/keys";
import { historyOf } from "./messages";
import * as pool from "./pool";

/** How pushgate_ack words a refused id (a Redis error reply): the rest of it is for the client. */
const REFUSED_PREFIX = "INVALID ";

/**
 * Moves `user`'s read position on `channel` forward to `id` (a valid id); the position after.
 * An id newer than the channel's last message is refused, atomically in Redis: `invalid`.
 */
export function acknowledge(settings: Settings, user: string, channel: string, id: string): LuaMultiReturn<[string] | [undefined, Failure]> {
  const [session, openFailure] = pool.open(settings);
  if (session === undefined) {
    return $multi(undefined, openFailure);
  }
  // moving forward to one id twice moves it once: safe to send again after a lost connection
  const [position, err, lost] = pool.fcall(session, "pushgate_ack", [readKey(channel), metaKey(channel)], [channel, id, user], true);
  pool.close(session);
  if (err === undefined) {
    return $multi(position as string);
  }
  const message = `${err}`;
  if (lost !== true && string.sub(message, 1, REFUSED_PREFIX.length) === REFUSED_PREFIX) {
    return $multi(undefined, { kind: "invalid", message: string.sub(message, REFUSED_PREFIX.length + 1) });
  }
  ngx.log(ngx.ERR, `failed to acknowledge: ${message}`);
  return $multi(undefined, UNAVAILABLE);
}

/** `user`'s read position on each of `channels` (absent where there is none). */
export function positions(settings: Settings, user: string, channels: string[]): LuaMultiReturn<[Record<string, string>] | [undefined, Failure]> {
  const [session, failure] = pool.open(settings);
  if (session === undefined) {
    return $multi(undefined, failure);
  }
  const found: Record<string, string> = {};
  for (const channel of channels) {
    const key = readKey(channel);
    const [position, err] = pool.command(session, key, "hget", [key, user]);
    if (position === undefined || position === false) {
      pool.close(session);
      ngx.log(ngx.ERR, "failed to read positions: ", `${err}`);
      return $multi(undefined, UNAVAILABLE);
    }
    if (typeof position === "string") {
      found[channel] = position;
    }
  }
  pool.close(session);
  return $multi(found);
}

/** How many kept messages of each of `channels` come after `user`'s read position, in order. */
export function unread(settings: Settings, user: string, channels: string[]): LuaMultiReturn<[number[]] | [undefined, Failure]> {
  const [session, failure] = pool.open(settings);
  if (session === undefined) {
    return $multi(undefined, failure);
  }
  const counts: number[] = [];
  for (const channel of channels) {
    const [count, callFailure] = pool.callIn(
      session,
      "count unread",
      "pushgate_unread",
      [streamKey(channel), readKey(channel)],
      [user, `${historyOf(settings, channel).length}`],
      true,
    );
    if (count === undefined) {
      return $multi(undefined, callFailure);
    }
    counts.push(count as number);
  }
  pool.close(session);
  return $multi(counts);
}
