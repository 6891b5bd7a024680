// Offline and unread events for backends (redis/pushgate.lua, "Offline and unread events"): entries
// of the capped Redis Stream pushgate:events, which backends read with a consumer group.
//
// Offline: presence (presence.ts) tells Redis, with each batch of joins, refreshes and leaves, when
// each user would count as offline: a live connection's expiry plus PUSHGATE_OFFLINE_GRACE_SECONDS,
// or the grace after a user's last connection on a gateway ended. Nothing else is needed when a
// gateway dies: its refreshes stop, so its users fall due by themselves. Unread: a message published
// to an inbox (`user:<id>`) falls due PUSHGATE_UNREAD_NOTIFY_SECONDS after its id's time.
//
// Worker 0 of every gateway sweeps once a second: it reads what is due, looks at the user (their
// connections on every gateway; their read position on the inbox), and claims each occurrence in
// one Redis function call that removes the due entry and appends the event together, so one
// occurrence is one event however many gateways sweep. Keyspace notifications are not used: they
// are lost while nobody listens. In a Redis Cluster the due sets share the stream's slot (hash tag
// {pushgate:events}); the user's keys and the inbox's read hash are read in their own slots first.

import type { Settings } from "../config/schema";
import * as settingsHolder from "../host/settings";
import { compareIds } from "../protocol/cursor";
import { readKey, userPresenceKeys } from "../protocol/keys";
import * as pool from "./pool";

export const EVENTS_KEY = "pushgate:events";
const OFFLINE_DUE_KEY = "{pushgate:events}:offline";
const UNREAD_DUE_KEY = "{pushgate:events}:unread";
const INBOX_PREFIX = "user:";
const SWEEP_S = 1;
/** At most this many occurrences of each kind claimed per sweep. */
const SWEEP_LIMIT = 500;

/**
 * Sends the due times of a presence batch: triples op ('up': seen connected, 'down': the last
 * connection on this gateway ended), user, delay in ms. False when Redis could not be reached.
 */
export function markDue(session: pool.Session, triples: string[]): boolean {
  const [reply, err] = pool.fcall(session, "pushgate_events_due", [OFFLINE_DUE_KEY], triples, true);
  if (reply === undefined) {
    ngx.log(ngx.WARN, "failed to update offline events: ", `${err}`);
    return false;
  }
  return true;
}

/** After a publish: a message to an inbox falls due for an unread event (when they are on). */
export function published(settings: Settings, channel: string, id: string): void {
  if (settings.unreadNotifySeconds > 0 && string.sub(channel, 1, INBOX_PREFIX.length) === INBOX_PREFIX) {
    publishedMany(settings, [channel], [id]);
  }
}

/**
 * After many publishes (channels[i] got ids[i]): the messages to inboxes fall due for unread
 * events, in one call. Meant for pipelined publishing too (broadcast, publish_many).
 */
export function publishedMany(settings: Settings, channels: string[], ids: string[]): void {
  if (settings.unreadNotifySeconds <= 0) {
    return;
  }
  const args = [`${math.floor(settings.unreadNotifySeconds * 1000)}`];
  for (let i = 0; i < channels.length; i++) {
    if (string.sub(channels[i], 1, INBOX_PREFIX.length) === INBOX_PREFIX && ids[i] !== undefined) {
      args.push(`${channels[i]} ${ids[i]}`);
    }
  }
  if (args.length > 1) {
    pool.call(settings, "schedule unread events", "pushgate_events_unread_due", [UNREAD_DUE_KEY], args, true);
  }
}

/** Looks at one due user and claims their offline event; false when Redis failed. */
function claimOffline(session: pool.Session, settings: Settings, user: string, due: string): boolean {
  const [found, err] = pool.fcall(session, "pushgate_presence_user", userPresenceKeys(user), ["read", "", "0"], true);
  if (found === undefined) {
    ngx.log(ngx.WARN, "failed to read presence for offline events: ", `${err}`);
    return false;
  }
  const [connections, lastSeen] = found as unknown as [number, number];
  const recheckMs = math.floor((settings.presenceRefreshSeconds * 2.5 + settings.offlineGraceSeconds) * 1000);
  const [claimed, claimErr] = pool.fcall(
    session,
    "pushgate_events_offline",
    [OFFLINE_DUE_KEY, EVENTS_KEY],
    [user, due, `${connections}`, `${lastSeen}`, `${settings.eventsMaxLength}`, `${recheckMs}`],
    false,
  );
  if (claimed === undefined) {
    ngx.log(ngx.WARN, "failed to append an offline event: ", `${claimErr}`);
    return false;
  }
  return true;
}

/** Looks at one due inbox message and claims its unread event unless it was read; false when Redis failed. */
function claimUnread(session: pool.Session, settings: Settings, member: string): boolean {
  const [channel, id] = string.match(member, "^(%S+) (%S+)$");
  if (channel === undefined || id === undefined) {
    return true;
  }
  const user = string.sub(channel, INBOX_PREFIX.length + 1);
  const key = readKey(channel);
  const [position, err] = pool.command(session, key, "hget", [key, user]);
  if (position === undefined || position === false) {
    ngx.log(ngx.WARN, "failed to read a read position for unread events: ", `${err}`);
    return false;
  }
  const read = typeof position === "string" && compareIds(position, id) >= 0 ? "1" : "0";
  const [claimed, claimErr] = pool.fcall(
    session,
    "pushgate_events_unread",
    [UNREAD_DUE_KEY, EVENTS_KEY],
    [member, user, read, `${settings.eventsMaxLength}`],
    false,
  );
  if (claimed === undefined) {
    ngx.log(ngx.WARN, "failed to append an unread event: ", `${claimErr}`);
    return false;
  }
  return true;
}

/** A sweep still running when the timer fires again (Redis slow): the next one waits for its turn. */
let sweeping = false;

function sweep(this: void, premature: boolean): void {
  if (premature || sweeping) {
    return;
  }
  const settings = settingsHolder.get();
  const [session] = pool.open(settings);
  if (session === undefined) {
    return;
  }
  sweeping = true;
  const [pending, err] = pool.fcall(session, "pushgate_events_pending", [OFFLINE_DUE_KEY, UNREAD_DUE_KEY], [`${SWEEP_LIMIT}`], true);
  if (pending === undefined) {
    ngx.log(ngx.WARN, "failed to read due events: ", `${err}`);
    pool.close(session);
    sweeping = false;
    return;
  }
  const [offline, unread] = pending as unknown as [string[], string[]];
  let ok = true;
  for (let i = 0; ok && i < offline.length; i += 2) {
    ok = claimOffline(session, settings, offline[i], offline[i + 1]);
  }
  for (let i = 0; ok && i < unread.length; i += 2) {
    ok = claimUnread(session, settings, unread[i]);
  }
  pool.close(session);
  sweeping = false;
}

/** init_worker: worker 0 of each gateway sweeps for due events (when either kind is on). */
export function start(settings: Settings): void {
  if (ngx.worker.id() === 0 && (settings.offlineGraceSeconds > 0 || settings.unreadNotifySeconds > 0)) {
    ngx.timer.every(SWEEP_S, sweep);
  }
}
