// Presence as every gateway sees it, read from Redis (redis/pushgate.lua, "Presence"): who is in
// a channel (connections, distinct users, a page of their ids) and a user's connections on every
// gateway with when they were last seen. What this worker writes there is presence.ts.

import type { Settings } from "../config/schema";
import { Failure } from "../protocol/failure";
import { presenceKeys, userPresenceKeys } from "../protocol/keys";
import * as pool from "./pool";

export interface ChannelPresence {
  connections: number;
  users: number;
  /** User ids, by name, from the requested offset. */
  page: string[];
}

/** Who is in `channel`, on every gateway. */
export function ofChannel(settings: Settings, channel: string, offset: number, limit: number): LuaMultiReturn<[ChannelPresence] | [undefined, Failure]> {
  const keys = presenceKeys(channel, "");
  const [reply, failure] = pool.call(settings, "read presence", "pushgate_presence_channel", [keys[0], keys[1]], [`${offset}`, `${limit}`]);
  if (reply === undefined) {
    return $multi(undefined, failure);
  }
  const values = reply as unknown as [number, number, string[]];
  return $multi({ connections: values[0], users: values[1], page: values[2] });
}

export interface UserPresence {
  connections: number;
  /** Last seen connected (ms since the epoch, Redis's clock; now while connected; 0: never). */
  lastSeen: number;
}

/** A user's connections on every gateway, and when last seen. */
export function ofUser(settings: Settings, user: string): LuaMultiReturn<[UserPresence] | [undefined, Failure]> {
  const [reply, failure] = pool.call(settings, "read presence", "pushgate_presence_user", userPresenceKeys(user), ["read", "", "0"]);
  if (reply === undefined) {
    return $multi(undefined, failure);
  }
  const values = reply as unknown as [number, number];
  return $multi({ connections: values[0], lastSeen: values[1] });
}
