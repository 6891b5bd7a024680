// Presence in Redis (redis/pushgate.lua, "Presence"): each worker keeps its live connections here
// (channels and user), sends their joins and leaves to Redis from a timer (batched, off the
// stream's path), and refreshes every entry every PUSHGATE_PRESENCE_REFRESH_SECONDS so that the entries of a gateway that
// dies expire by themselves. A user whose last connection in a channel left is settled after the
// grace: gone then, it has left (a leave notice on channels matching PUSHGATE_PRESENCE).

import type { Settings } from "../config/schema";
import { grantAllows } from "../auth/grant";
import * as settingsHolder from "../host/settings";
import { presenceKeys, userPresenceKeys } from "../protocol/keys";
import * as events from "./events";
import { BatchReply, FunctionCall, refused } from "./functions";
import * as pool from "./pool";
import * as anonymous from "./presence-refresh";
import { isCluster } from "./topology";

/** Entries live 2.5 refreshes (PUSHGATE_PRESENCE_REFRESH_SECONDS): one lost refresh does not drop a live connection. */
const TTL_REFRESHES = 2.5;
const SYNC_S = 0.2;

/** How long an entry lives unless refreshed (ms): a connection's here, a connection slot's (admission.ts). */
export function entryTtlMs(settings: Settings): number {
  return math.floor(settings.presenceRefreshSeconds * TTL_REFRESHES * 1000);
}

/**
 * This worker's live connections, each keyed by its stream's subscription (a table the stream
 * holds anyway): its number, its user (when it has one) and its channels (one channel as a plain
 * string, the common case; a set for more). Three flat tables, no record per stream: an idle
 * stream costs three hash slots here.
 */
const numberOf = new LuaTable<object, number>();
const userOf = new LuaTable<object, string>();
const channelsOf = new LuaTable<object, string | LuaTable<string, true>>();
/** Connections per user on this worker, and the totals the metrics read. */
const connectionsOf = new LuaTable<string, number>();
let userConnections = 0;
let distinctUsers = 0;
/** Joins and leaves not sent yet: [op, connection, user, channel ("" for the user's own entry)]. */
let changes: Array<[string, string, string, string]> = [];
/** Users to settle: [when (s), user, channel]. */
let settles: Array<[number, string, string]> = [];
let tag = "";
let sequence = 0;

/** Join and leave notices go out with SPUBLISH in a Redis Cluster, where the hub subscribes with SSUBSCRIBE. */
function publishWord(settings: Settings): string {
  return isCluster(settings) ? "SPUBLISH" : "PUBLISH";
}

function queue(op: string, id: string, user: string, channel: string): void {
  changes.push([op, id, user, channel]);
}

/** The connection's id in Redis: unique per worker start, built when a change is sent. */
function idOf(n: number): string {
  return `${tag}.${n}`;
}

/** Queues `op` for every channel of a connection. */
function queueChannels(op: string, id: string, user: string, held: string | LuaTable<string, true>): void {
  if (typeof held === "string") {
    queue(op, id, user, held);
  } else {
    for (const [channel] of held) {
      queue(op, id, user, channel);
    }
  }
}

/** A stream opened with `channels` as `user` (stream/open): tracked by `key` until untrack(key). */
export function track(key: object, user: string | undefined, channels: string[]): void {
  if (tag === "") {
    tag = `${ngx.worker.pid()}.${math.floor(ngx.now() * 1000)}.${math.random(1, 1000000)}`;
  }
  sequence += 1;
  numberOf.set(key, sequence);
  if (user !== undefined && user !== "") {
    userOf.set(key, user);
    const held = connectionsOf.get(user) ?? 0;
    connectionsOf.set(user, held + 1);
    userConnections += 1;
    if (held === 0) {
      distinctUsers += 1;
    }
    queue("join", idOf(sequence), user, "");
  }
  addChannels(key, channels);
}

/** The stream tracked by `key` gained channels (WebSocket subscribe). */
export function addChannels(key: object, channels: string[]): void {
  const n = numberOf.get(key);
  if (n === undefined || channels.length === 0) {
    return;
  }
  const user = userOf.get(key) ?? "";
  const id = idOf(n);
  let held = channelsOf.get(key);
  for (const channel of channels) {
    if (held === undefined) {
      held = channel;
      channelsOf.set(key, channel);
    } else if (typeof held === "string") {
      if (held === channel) {
        continue;
      }
      const set = new LuaTable<string, true>();
      set.set(held, true);
      set.set(channel, true);
      held = set;
      channelsOf.set(key, set);
    } else {
      held.set(channel, true);
    }
    queue("join", id, user, channel);
  }
}

/** The stream tracked by `key` dropped channels (WebSocket unsubscribe). */
export function removeChannels(key: object, channels: string[]): void {
  const n = numberOf.get(key);
  const held = channelsOf.get(key);
  if (n === undefined || held === undefined) {
    return;
  }
  const user = userOf.get(key) ?? "";
  for (const channel of channels) {
    if (typeof held === "string") {
      if (held === channel) {
        channelsOf.delete(key);
        queue("leave", idOf(n), user, channel);
        return;
      }
    } else if (held.get(channel) !== undefined) {
      held.delete(channel);
      queue("leave", idOf(n), user, channel);
    }
  }
}

/** The stream tracked by `key` ended (stream/finish). */
export function untrack(key: object): void {
  const n = numberOf.get(key);
  if (n === undefined) {
    return;
  }
  const id = idOf(n);
  const user = userOf.get(key) ?? "";
  const held = channelsOf.get(key);
  if (held !== undefined) {
    queueChannels("leave", id, user, held);
  }
  if (user !== "") {
    queue("leave", id, user, "");
    const left = (connectionsOf.get(user) ?? 1) - 1;
    userConnections -= 1;
    if (left > 0) {
      connectionsOf.set(user, left);
    } else {
      connectionsOf.delete(user);
      distinctUsers -= 1;
    }
  }
  numberOf.delete(key);
  userOf.delete(key);
  channelsOf.delete(key);
}

function notifies(settings: Settings, channel: string): string {
  return settings.presenceNotify.length > 0 && grantAllows(settings.presenceNotify, channel) ? channel : "";
}

/** The Redis function call of one change. */
function callFor(settings: Settings, change: [string, string, string, string]): FunctionCall {
  const [op, id, user, channel] = change;
  const ttl = `${entryTtlMs(settings)}`;
  if (channel === "") {
    return ["pushgate_presence_user", userPresenceKeys(user), [op, id, ttl]];
  } else if (op === "join") {
    return ["pushgate_presence_join", presenceKeys(channel, user), [id, user, ttl, notifies(settings, channel), publishWord(settings)]];
  }
  return ["pushgate_presence_leave", presenceKeys(channel, user), [id, user, `${math.floor(settings.presenceGraceSeconds * 1000)}`]];
}

/**
 * What follows a sent change: a leave that was a user's last connection in a channel is settled
 * after the grace; a user's own entry adds a due time for offline events to `due` (events.ts).
 */
function afterReply(settings: Settings, change: [string, string, string, string], reply: BatchReply, due: string[]): void {
  if (refused(reply)) {
    ngx.log(ngx.WARN, "failed to update presence: ", reply[1]);
    return;
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
}

/** Changes sent per pipeline (one round trip each; a cluster routes each call to its slot). */
const BATCH = 256;
/** A sync is running: the timer's next tick leaves what came meanwhile to the one after it. */
let syncing = false;

/** Sends the pending changes, BATCH per round trip, and settles who is due, in one session. False when Redis could not be reached. */
function syncNow(settings: Settings, now: number): boolean {
  const [session] = pool.open(settings);
  if (session === undefined) {
    changes = []; // the joins come back with the next refresh; the leaves' entries expire
    anonymous.drop();
    return false;
  }
  // refreshes first: a leave queued after them must not be undone by them
  let ok = anonymous.send(session, `${entryTtlMs(settings)}`);
  const batch = changes;
  changes = [];
  const due: string[] = [];
  for (let from = 0; ok && from < batch.length; from += BATCH) {
    const upto = math.min(batch.length, from + BATCH);
    const calls: FunctionCall[] = [];
    for (let i = from; i < upto; i++) {
      calls.push(callFor(settings, batch[i]));
    }
    const [replies, err] = pool.fcallMany(session, calls);
    if (replies === undefined) {
      ngx.log(ngx.WARN, "failed to update presence: ", err);
      ok = false;
    } else {
      for (let i = from; i < upto; i++) {
        afterReply(settings, batch[i], replies[i - from], due);
      }
    }
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
      const keys = presenceKeys(channel, user);
      const [reply] = pool.fcall(session, "pushgate_presence_settle", [keys[1], keys[2]], [user, notifies(settings, channel), publishWord(settings)], true);
      ok = reply !== undefined;
    }
  }
  settles = later;
  pool.close(session);
  return ok;
}

function sync(this: void, premature: boolean): void {
  const now = ngx.now();
  const settleDue = settles.length > 0 && settles[0][0] <= now;
  if (premature || syncing || (changes.length === 0 && !anonymous.pending() && !settleDue)) {
    return;
  }
  syncing = true;
  const [ran, err] = pcall(syncNow, settingsHolder.get(), now);
  syncing = false;
  if (!ran) {
    ngx.log(ngx.ERR, "presence sync failed: ", `${err}`);
  }
}

/**
 * Every entry again, before it expires. A user's connections go one by one (their user keys and
 * their join notices); anonymous ones per channel, many in one call (presence-refresh.ts): at
 * 12,000 streams of one channel a worker's refresh cost 15 ms of CPU a second, one call per
 * connection (bench/probes/idle-cpu.js).
 */
function refresh(this: void, premature: boolean): void {
  if (premature) {
    return;
  }
  const open = anonymous.begin();
  for (const [key, n] of numberOf) {
    const id = idOf(n);
    const user = userOf.get(key) ?? "";
    const held = channelsOf.get(key);
    if (user !== "") {
      queue("join", id, user, "");
      if (held !== undefined) {
        queueChannels("join", id, user, held);
      }
    } else if (typeof held === "string") {
      anonymous.add(open, held, id);
    } else if (held !== undefined) {
      for (const [channel] of held) {
        anonymous.add(open, channel, id);
      }
    }
  }
}

/** init_worker: the timers that send changes and refresh entries. */
export function start(settings: Settings): void {
  ngx.timer.every(SYNC_S, sync);
  ngx.timer.every(settings.presenceRefreshSeconds, refresh);
  events.start(settings);
}

/** This worker's tracked connections with a user, and its distinct users (kept as they change: read once a second for the metrics). */
export function localCounts(): LuaMultiReturn<[number, number]> {
  return $multi(userConnections, distinctUsers);
}
