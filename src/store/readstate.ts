// Read state in Redis: a user's read position per channel (pushgate_ack in redis/pushgate.lua
// moves it forward only, and never past the channel's last message), the positions a stream without a cursor resumes from, and how many
// kept messages come after them (pushgate_unread).

import type { Settings } from "../config/schema";
import { Failure, UNAVAILABLE } from "../protocol/failure";
import { metaKey, readKey, streamKey } from "../protocol/keys";
import * as functions from "./functions";
import { historyOf } from "./messages";
import * as pool from "./pool";

/** How pushgate_ack words a refused id (a Redis error reply): the rest of it is for the client. */
const REFUSED_PREFIX = "INVALID ";

/**
 * Moves `user`'s read position on `channel` forward to `id` (a valid id); the position after.
 * An id newer than the channel's last message is refused, atomically in Redis: `invalid`.
 */
export function acknowledge(settings: Settings, user: string, channel: string, id: string): LuaMultiReturn<[string] | [undefined, Failure]> {
  const [red, acquireFailure] = pool.acquire(settings);
  if (red === undefined) {
    return $multi(undefined, acquireFailure);
  }
  const [position, err, lost] = functions.call(red, "pushgate_ack", [readKey(user), metaKey(channel)], [channel, id]);
  if (err === undefined) {
    pool.release(red);
    return $multi(position as string);
  }
  pool.release(red, lost === true);
  const message = `${err}`;
  if (lost !== true && string.sub(message, 1, REFUSED_PREFIX.length) === REFUSED_PREFIX) {
    return $multi(undefined, { kind: "invalid", message: string.sub(message, REFUSED_PREFIX.length + 1) });
  }
  ngx.log(ngx.ERR, `failed to acknowledge: ${message}`);
  return $multi(undefined, UNAVAILABLE);
}

/** `user`'s read position on each of `channels` (absent where there is none). */
export function positions(settings: Settings, user: string, channels: string[]): LuaMultiReturn<[Record<string, string>] | [undefined, Failure]> {
  const [red, failure] = pool.acquire(settings);
  if (red === undefined) {
    return $multi(undefined, failure);
  }
  const [read, err] = red.hmget(readKey(user), ...channels);
  if (read === undefined || read === false) {
    pool.release(red, read === undefined);
    ngx.log(ngx.ERR, "failed to read positions: ", `${err}`);
    return $multi(undefined, UNAVAILABLE);
  }
  pool.release(red);
  const found: Record<string, string> = {};
  for (let i = 0; i < channels.length; i++) {
    const position = read[i];
    if (typeof position === "string") {
      found[channels[i]] = position;
    }
  }
  return $multi(found);
}

/** How many kept messages of each of `channels` come after `user`'s read position, in order. */
export function unread(settings: Settings, user: string, channels: string[]): LuaMultiReturn<[number[]] | [undefined, Failure]> {
  const [red, failure] = pool.acquire(settings);
  if (red === undefined) {
    return $multi(undefined, failure);
  }
  const counts: number[] = [];
  for (const channel of channels) {
    const [count, callFailure] = pool.callOn(
      red,
      "count unread",
      "pushgate_unread",
      [streamKey(channel), readKey(user)],
      [channel, `${historyOf(settings, channel).length}`],
    );
    if (count === undefined) {
      return $multi(undefined, callFailure);
    }
    counts.push(count as number);
  }
  pool.release(red);
  return $multi(counts);
}
