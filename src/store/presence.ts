// Presence in Redis (redis/pushgate.lua, "Presence"): each worker keeps its live connections here
// (channels and user), sends their joins and leaves to Redis from a timer (batched, off the
// stream's path), and refreshes every entry every PUSHGATE_PRESENCE_REFRESH_SECONDS so that the entries of a gateway that
// dies expire by themselves. A user whose last connection in a channel left is settled after the
// grace: gone then, it has left (a leave notice on channels matching PUSHGATE_PRESENCE).

import type { Settings } from "../config/schema";
import { grantAllows } from "../auth/grant";
import * as settingsHolder from "../host/settings";
import { Failure } from "../protocol/failure";
import * as events from "./events";
import { userKeys } from "./events";
import * as pool from "./pool";
import { isCluster } from "./topology";

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

/** A channel's presence keys; an anonymous connection's have no third (no '': in a cluster it is a key of another slot). */
function channelKeys(channel: string, user: string): string[] {
  const keys = [`pushgate:{${channel}}:pconn`, `pushgate:{${channel}}:puser`];
  if (user !== "") {
    keys.push(`pushgate:{${channel}}:puser:${user}`);
  }
  return keys;
}

/** Join and leave notices go out with SPUBLISH in a Redis Cluster, where the hub subscribes with SSUBSCRIBE. */
function publishWord(settings: Settings): string {
  return isCluster(settings) ? "SPUBLISH" : "PUBLISH";
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

function callFor(
  session: pool.Session,
  settings: Settings,
  change: [string, string, string, string],
): LuaMultiReturn<[RedisReply] | [undefined, string, boolean]> {
  const [op, id, user, channel] = change;
  const ttl = `${math.floor(settings.presenceRefreshSeconds * TTL_REFRESHES * 1000)}`;
  if (channel === "") {
    return pool.fcall(session, "pushgate_presence_user", userKeys(user), [op, id, ttl], true);
  } else if (op === "join") {
    return pool.fcall(session, "pushgate_presence_join", channelKeys(channel, user), [id, user, ttl, notifies(settings, channel), publishWord(settings)], true);
  }
  return pool.fcall(session, "pushgate_presence_leave", channelKeys(channel, user), [id, user, `${math.floor(settings.presenceGraceSeconds * 1000)}`], true);
}

/**
 * Sends one change; a leave that was a user's last connection in a channel is settled after the
 * grace. A user's own entry adds a due time for offline events to `due` (events.ts).
 */
function send(session: pool.Session, settings: Settings, change: [string, string, string, string], due: string[]): boolean {
  const [reply, err] = callFor(session, settings, change);
  if (reply === undefined) {
    ngx.log(ngx.WARN, "failed to update presence: ", `${err}`);
    return false;
  }
  const [op, , user, channel] = change;
  if (op === "leave" && channel !== "" && reply === 1) {
    settles.push([ngx.now() + settings.presenceGraceSeconds, user, channel]);
  }
  if (channel === "" && settings.offlineGraceSeconds > 0) {
    const graceMs = settings.offlineGraceSeconds * 1000;
    if (op === "join") {
      due.push("up", user, `${math.floor(settings.presenceRefreshSeconds * TTL_REFRESHES * 1000 + graceMs)}`);
    } else if ((reply as unknown as [number, number])[0] === 0) {
      due.push("down", user, `${math.floor(graceMs)}`);
    }
  }
  return true;
}

/** Sends the pending changes and settles who is due, in one session (each call routed to its slot in a cluster). */
function sync(this: void, premature: boolean): void {
  const now = ngx.now();
  const settleDue = settles.length > 0 && settles[0][0] <= now;
  if (premature || (changes.length === 0 && !settleDue)) {
    return;
  }
  const settings = settingsHolder.get();
  const [session] = pool.open(settings);
  if (session === undefined) {
    changes = [];
    return;
  }
  const batch = changes;
  changes = [];
  let ok = true;
  const due: string[] = [];
  for (const change of batch) {
    ok = ok && send(session, settings, change, due);
  }
  if (ok && due.length > 0) {
    ok = events.markDue(session, due);
  }
  const later: Array<[number, string, string]> = [];
  for (const settle of settles) {
    const [at, user, channel] = settle;
    if (at > now || !ok) {
      later.push(settle);
    } else {
      const keys = channelKeys(channel, user);
      const [reply] = pool.fcall(session, "pushgate_presence_settle", [keys[1], keys[2]], [user, notifies(settings, channel), publishWord(settings)], true);
      ok = reply !== undefined;
    }
  }
  settles = later;
  pool.close(session);
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
  events.start(settings);
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
