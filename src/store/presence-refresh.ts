// The periodic refresh of anonymous presence entries (store/presence.ts), per channel: one
// pushgate_presence_refresh call (redis/pushgate.lua) carries up to REFRESH_IDS connections of a
// channel, where one call per connection cost a worker holding 12,000 streams of one channel
// 15 ms of CPU a second (bench/probes/idle-cpu.js). A user's connections are refreshed one by one
// by presence.ts: they have user keys and join notices of their own.

import { presenceKeys } from "../protocol/keys";
import { FunctionCall, refused } from "./functions";
import * as pool from "./pool";

/** Connection ids per call: one ZADD of this many members. */
const REFRESH_IDS = 500;
/** Calls per round trip. */
const CALLS_PER_TRIP = 8;

/** Refreshes to send, one call each: [channel, connection ids]. */
let calls: Array<[string, string[]]> = [];

/** Starts a refresh: the open call of each channel, which add() fills. */
export function begin(): LuaTable<string, string[]> {
  return new LuaTable();
}

/** Adds connection `id` of `channel` to its channel's call, starting a new one when it is full. */
export function add(open: LuaTable<string, string[]>, channel: string, id: string): void {
  let ids = open.get(channel);
  if (ids === undefined || ids.length >= REFRESH_IDS) {
    ids = [];
    open.set(channel, ids);
    calls.push([channel, ids]);
  }
  ids.push(id);
}

export function pending(): boolean {
  return calls.length > 0;
}

/** Redis could not be reached: the entries live until the next refresh. */
export function drop(): void {
  calls = [];
}

/** Sends the pending calls with entries living `ttlMs`; false when Redis could not be reached. */
export function send(session: pool.Session, ttlMs: string): boolean {
  const sweep = calls;
  calls = [];
  for (let from = 0; from < sweep.length; from += CALLS_PER_TRIP) {
    const trip: FunctionCall[] = [];
    for (let i = from; i < math.min(sweep.length, from + CALLS_PER_TRIP); i++) {
      const [channel, ids] = sweep[i];
      trip.push(["pushgate_presence_refresh", [presenceKeys(channel, "")[0]], [ttlMs, ...ids]]);
    }
    const [replies, err] = pool.fcallMany(session, trip);
    if (replies === undefined) {
      ngx.log(ngx.WARN, "failed to refresh presence: ", err);
      return false;
    }
    for (const reply of replies) {
      if (refused(reply)) {
        ngx.log(ngx.WARN, "failed to refresh presence: ", reply[1]);
      }
    }
  }
  return true;
}
