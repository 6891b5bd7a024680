// Presence in Redis (redis/pushgate.lua, "Presence"): each worker keeps its live connections here
// (channels and user), sends their joins and leaves to Redis from a timer (batched, off the
// stream's path), and refreshes every entry every PUSHGATE_PRESENCE_REFRESH_SECONDS so that the entries of a gateway that
// dies expire by themselves. A user whose last connection in a channel left is settled after the
// grace: gone then, it has left (a leave notice on channels matching PUSHGATE_PRESENCE).

import type { Settings } from "../config/schema";
import { grantAllows } from "../auth/grant";
import * as settingsHolder from "../host/settings";
import { Failure } from "../protocol/failure";
import * as functions from "./functions";
import * as pool from "./pool";

/** Entries live 2.5 refreshes (PUSHGATE_PRESENCE_REFRESH_SECONDS): one lost refresh does not drop a live connection. */
const TTL_REFRESHES = 2.5;
const SYNC_S = 0.2;
const CTX_KEY = "pushgate_presence";

interface Tracked {
  user: string;
  channels: LuaTable<string, true>;
}

/** This worker's live connections, by connection id. */
const live = new LuaTable<string, Tracked>();
/** Joins and leaves not sent yet: [op, connection, user, channel ("" for the user's own entry)]. */
let changes: Array<[string, string, string, string]> = [];
/** Users to settle: [when (s), user, channel]. */
let settles: Array<[number, string, string]> = [];
let tag = "";
let sequence = 0;

function channelKeys(channel: string, user: string): string[] {
  return [`pushgate:{${channel}}:pconn`, `pushgate:{${channel}}:puser`, user === "" ? "" : `pushgate:{${channel}}:puser:${user}`];
}

function userKeys(user: string): string[] {
  return [`pushgate:user:{${user}}:conns`, `pushgate:user:{${user}}:seen`];
}

function queue(op: string, id: string, user: string, channel: string): void {
  changes.push([op, id, user, channel]);
}

/** A stream opened with `channels` as `user` (stream/open): tracked until untrack(). */
export function track(user: string | undefined, channels: string[]): void {
  if (tag === "") {
    tag = `${ngx.worker.pid()}.${math.floor(ngx.now() * 1000)}.${math.random(1, 1000000)}`;
  }
  sequence += 1;
  const id = `${tag}.${sequence}`;
  const name = user ?? "";
  ngx.ctx.set(CTX_KEY, id);
  const tracked: Tracked = { user: name, channels: new LuaTable() };
  live.set(id, tracked);
  if (name !== "") {
    queue("join", id, name, "");
  }
  addChannels(channels);
}

/** The stream of this request gained channels (WebSocket subscribe). */
export function addChannels(channels: string[]): void {
  const id = ngx.ctx.get(CTX_KEY) as string | undefined;
  const tracked = id !== undefined ? live.get(id) : undefined;
  if (id === undefined || tracked === undefined) {
    return;
  }
  for (const channel of channels) {
    tracked.channels.set(channel, true);
    queue("join", id, tracked.user, channel);
  }
}

/** The stream of this request dropped channels (WebSocket unsubscribe). */
export function removeChannels(channels: string[]): void {
  const id = ngx.ctx.get(CTX_KEY) as string | undefined;
  const tracked = id !== undefined ? live.get(id) : undefined;
  if (id === undefined || tracked === undefined) {
    return;
  }
  for (const channel of channels) {
    if (tracked.channels.get(channel) !== undefined) {
      tracked.channels.delete(channel);
      queue("leave", id, tracked.user, channel);
    }
  }
}

/** The stream of this request ended (stream/finish). */
export function untrack(): void {
  const id = ngx.ctx.get(CTX_KEY) as string | undefined;
  const tracked = id !== undefined ? live.get(id) : undefined;
  if (id === undefined || tracked === undefined) {
    return;
  }
  live.delete(id);
  for (const [channel] of tracked.channels) {
    queue("leave", id, tracked.user, channel);
  }
  if (tracked.user !== "") {
    queue("leave", id, tracked.user, "");
  }
}

function notifies(settings: Settings, channel: string): string {
  return settings.presenceNotify.length > 0 && grantAllows(settings.presenceNotify, channel) ? channel : "";
}

function callFor(red: RestyRedis, settings: Settings, change: [string, string, string, string]): LuaMultiReturn<[RedisReply] | [undefined, string, boolean]> {
  const [op, id, user, channel] = change;
  const ttl = `${math.floor(settings.presenceRefreshSeconds * TTL_REFRESHES * 1000)}`;
  if (channel === "") {
    return functions.call(red, "pushgate_presence_user", userKeys(user), [op, id, ttl]);
  } else if (op === "join") {
    return functions.call(red, "pushgate_presence_join", channelKeys(channel, user), [id, user, ttl, notifies(settings, channel)]);
  }
  return functions.call(red, "pushgate_presence_leave", channelKeys(channel, user), [id, user, `${math.floor(settings.presenceGraceSeconds * 1000)}`]);
}

/** Sends one change; a leave that was a user's last connection in a channel is settled after the grace. */
function send(red: RestyRedis, settings: Settings, change: [string, string, string, string]): boolean {
  const [reply, err] = callFor(red, settings, change);
  if (reply === undefined) {
    ngx.log(ngx.WARN, "failed to update presence: ", `${err}`);
    return false;
  }
  if (change[0] === "leave" && change[3] !== "" && reply === 1) {
    settles.push([ngx.now() + settings.presenceGraceSeconds, change[2], change[3]]);
  }
  return true;
}

function sync(this: void, premature: boolean): void {
  const now = ngx.now();
  const due = settles.length > 0 && settles[0][0] <= now;
  if (premature || (changes.length === 0 && !due)) {
    return;
  }
  const settings = settingsHolder.get();
  const [red] = pool.acquire(settings);
  if (red === undefined) {
    changes = [];
    return;
  }
  const batch = changes;
  changes = [];
  let ok = true;
  for (const change of batch) {
    ok = ok && send(red, settings, change);
  }
  const later: Array<[number, string, string]> = [];
  for (const settle of settles) {
    const [at, user, channel] = settle;
    if (at > now || !ok) {
      later.push(settle);
    } else {
      const keys = channelKeys(channel, user);
      const [reply] = functions.call(red, "pushgate_presence_settle", [keys[1], keys[2]], [user, notifies(settings, channel)]);
      ok = reply !== undefined;
    }
  }
  settles = later;
  pool.release(red, !ok);
}

function refresh(this: void, premature: boolean): void {
  if (premature) {
    return;
  }
  for (const [id, tracked] of live) {
    if (tracked.user !== "") {
      queue("join", id, tracked.user, "");
    }
    for (const [channel] of tracked.channels) {
      queue("join", id, tracked.user, channel);
    }
  }
}

/** init_worker: the timers that send changes and refresh entries. */
export function start(settings: Settings): void {
  ngx.timer.every(SYNC_S, sync);
  ngx.timer.every(settings.presenceRefreshSeconds, refresh);
}

export interface ChannelPresence {
  connections: number;
  users: number;
  /** User ids, by name, from the requested offset. */
  page: string[];
}

/** Who is in `channel`, on every gateway. */
export function ofChannel(settings: Settings, channel: string, offset: number, limit: number): LuaMultiReturn<[ChannelPresence] | [undefined, Failure]> {
  const keys = channelKeys(channel, "");
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
  const [reply, failure] = pool.call(settings, "read presence", "pushgate_presence_user", userKeys(user), ["read", "", "0"]);
  if (reply === undefined) {
    return $multi(undefined, failure);
  }
  const values = reply as unknown as [number, number];
  return $multi({ connections: values[0], lastSeen: values[1] });
}

/** This worker's tracked connections with a user, and its distinct users (read once a second for the metrics, not per message). */
export function localCounts(): LuaMultiReturn<[number, number]> {
  let connections = 0;
  let users = 0;
  const seen = new LuaTable<string, true>();
  for (const [, tracked] of live) {
    if (tracked.user !== "") {
      connections += 1;
      if (!seen.has(tracked.user)) {
        seen.set(tracked.user, true);
        users += 1;
      }
    }
  }
  return $multi(connections, users);
}
