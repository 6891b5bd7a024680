// Admission of a stream across gateways, in Redis (redis/pushgate.lua, "Acting on users"): the
// per-user connection cap (PUSHGATE_MAX_CONNECTIONS_PER_USER) and the connect-rate limits per user
// and per client address (PUSHGATE_CONNECT_RATE_*). A stream under the cap holds a slot: an entry
// of the user's sorted set, scored by its expiry. This worker refreshes its slots on a timer every
// PUSHGATE_PRESENCE_REFRESH_SECONDS (slots live 2.5 refreshes), so the slots of a gateway that dies
// expire by themselves; a stream's end gives its slot back at once (from the timer when Redis
// fails then).
// Nothing here runs when the cap and the rates are off; when on, one round trip per connect
// (two with the per-address rate: the address's keys hash to another slot than the user's).

import type { Settings } from "../config/schema";
import * as settingsHolder from "../host/settings";
import { Failure, failure } from "../protocol/failure";
import * as pool from "./pool";
import { entryTtlMs } from "./presence";

// Slots live as presence entries do (entryTtlMs: 2.5 refreshes): one lost refresh does not give a
// live stream's slot away.

/** How often given-back slots are sent to Redis (s). */
const RELEASE_S = 0.2;

/** This worker's slots, per user: slot id → true. */
const held = new LuaTable<string, LuaTable<string, true>>();
/** Slots given back and not yet removed from Redis, per user. */
let released = new LuaTable<string, string[]>();
let tag = "";
let sequence = 0;

function slotsKey(user: string): string {
  return `pushgate:user:{${user}}:slots`;
}

function limitedFor(reply: [number, string, number], settings: Settings, what: string): Failure {
  const [, why, waitMs] = reply;
  const refusal =
    why === "cap"
      ? failure("limited", `too many connections for this user: at most ${settings.maxConnectionsPerUser}`)
      : failure(
          "limited",
          `too many connects ${what}: at most ${why === "address" ? settings.connectRatePerAddress : settings.connectRatePerUser} per ${settings.connectRateWindowSeconds} s`,
        );
  refusal.retryAfterSeconds = math.max(1, math.ceil(waitMs / 1000));
  return refusal;
}

/**
 * Admits a connect of `user` from `address`: the address's rate, the user's rate and a slot under
 * the user's cap. Gives the slot id ("" when the cap is off or there is no user), or limited with
 * the seconds to wait, or unavailable.
 */
export function admit(settings: Settings, user: string | undefined, address: string): LuaMultiReturn<[string] | [undefined, Failure]> {
  if (settings.connectRatePerAddress > 0) {
    const windowMs = `${settings.connectRateWindowSeconds * 1000}`;
    const [wait, rateFailure] = pool.call(
      settings,
      "count a connect",
      "pushgate_connect_rate",
      [`pushgate:addr:{${address}}:rate`],
      [`${settings.connectRatePerAddress}`, windowMs],
    );
    if (wait === undefined) {
      return $multi(undefined, rateFailure);
    }
    if ((wait as number) > 0) {
      return $multi(undefined, limitedFor([0, "address", wait as number], settings, "from this address"));
    }
  }
  const cap = settings.maxConnectionsPerUser;
  const rate = settings.connectRatePerUser;
  if (user === undefined || (cap === 0 && rate === 0)) {
    return $multi("");
  }
  let slot = "";
  if (cap > 0) {
    if (tag === "") {
      tag = `${ngx.worker.pid()}.${math.floor(ngx.now() * 1000)}.${math.random(1, 1000000)}`;
    }
    sequence += 1;
    slot = `${tag}.${sequence}`;
  }
  const [reply, admitFailure] = pool.call(
    settings,
    "admit a connect",
    "pushgate_admit",
    [slotsKey(user), `pushgate:user:{${user}}:rate`],
    [slot, `${cap}`, `${entryTtlMs(settings)}`, `${rate}`, `${settings.connectRateWindowSeconds * 1000}`],
  );
  if (reply === undefined) {
    return $multi(undefined, admitFailure);
  }
  const answer = reply as unknown as [number, string, number];
  if (answer[0] !== 1) {
    return $multi(undefined, limitedFor(answer, settings, "for this user"));
  }
  if (slot !== "") {
    let slots = held.get(user);
    if (slots === undefined) {
      slots = new LuaTable();
      held.set(user, slots);
    }
    slots.set(slot, true);
  }
  return $multi(slot);
}

function releaseLater(this: void, _premature: boolean, settings: Settings, user: string, slot: string): void {
  release(settings, user, slot);
}

/**
 * Gives back the slot admit() took, at once (a long-poll client at its cap polls again right
 * after), or from the timer within RELEASE_S when Redis does not answer now.
 */
export function release(settings: Settings, user: string | undefined, slot: string): void {
  if (user === undefined || slot === "") {
    return;
  }
  if (ngx.get_phase() === "log") {
    // a request's log phase (its stream finished there: stream/open) may not use a socket
    ngx.timer.at(0, releaseLater, settings, user, slot);
    return;
  }
  const slots = held.get(user);
  if (slots !== undefined) {
    slots.delete(slot);
    if (next(slots)[0] === undefined) {
      held.delete(user);
    }
  }
  const [session] = pool.open(settings);
  if (session !== undefined) {
    const [reply] = pool.fcall(session, "pushgate_slots_refresh", [slotsKey(user)], ["release", `${entryTtlMs(settings)}`, slot], true);
    pool.close(session);
    if (reply !== undefined) {
      return;
    }
  }
  let list = released.get(user);
  if (list === undefined) {
    list = [];
    released.set(user, list);
  }
  list.push(slot);
}

/** Sends `op` ("refresh" or "release") for each user's slots; false when Redis failed. */
function sendAll(settings: Settings, op: string, slotsOf: LuaTable<string, string[]>): boolean {
  const [session] = pool.open(settings);
  if (session === undefined) {
    return false;
  }
  const ttl = `${entryTtlMs(settings)}`;
  for (const [user, slots] of slotsOf) {
    const args = [op, ttl];
    for (const slot of slots) {
      args.push(slot);
    }
    const [reply, err] = pool.fcall(session, "pushgate_slots_refresh", [slotsKey(user)], args, true);
    if (reply === undefined) {
      ngx.log(ngx.WARN, `failed to ${op} connection slots: ${err}`);
      pool.close(session);
      return false;
    }
  }
  pool.close(session);
  return true;
}

function sendReleases(this: void, premature: boolean): void {
  if (premature || next(released)[0] === undefined) {
    return;
  }
  const batch = released;
  released = new LuaTable();
  sendAll(settingsHolder.get(), "release", batch); // slots not given back expire by themselves
}

function refresh(this: void, premature: boolean): void {
  if (premature || next(held)[0] === undefined) {
    return;
  }
  const all = new LuaTable<string, string[]>();
  for (const [user, slots] of held) {
    const list: string[] = [];
    for (const [slot] of slots) {
      list.push(slot);
    }
    all.set(user, list);
  }
  sendAll(settingsHolder.get(), "refresh", all);
}

/** init_worker: the timers that refresh this worker's slots and give back those of ended streams. */
export function start(settings: Settings): void {
  if (settings.maxConnectionsPerUser > 0) {
    ngx.timer.every(RELEASE_S, sendReleases);
    ngx.timer.every(settings.presenceRefreshSeconds, refresh);
  }
}
