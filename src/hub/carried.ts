// The state the hub's shard connections (shard.ts), their router (shards.ts) and the store's way
// onto them (mux.ts) share in a Redis Cluster: the hooks given at start, the shard of each node,
// the shard each channel was sent to, and the channels a shard stopped carrying, with what happens
// when one is lost and restored.

import semaphore = require("ngx.semaphore");
import type { RedisAddress, Settings } from "../config/schema";
import type { RestoredHook } from "./connection";
import type { Fifo, Pending } from "./pending";
import * as fanout from "./fanout";
import * as registry from "./registry";

/** Where channels live: the primary owning a channel's slot, and a call when the map looks stale. */
export interface ShardMap {
  ownerOf: (this: void, channel: string) => LuaMultiReturn<[RedisAddress] | [undefined, string]>;
  changed: (this: void) => void;
}

/** One node's connection: its subscriptions and this worker's commands to it (its life: shard.ts). */
export interface Shard {
  address: RedisAddress;
  /** Commands to send: [verb, channel] of the router, waiters of the store (mux.ts). */
  outbox: Pending[];
  /** Sent and not answered yet, in order (replies come in order). */
  sent: Fifo;
  wake: NgxSemaphore;
  /** Until the connection ends (or failed to open: then `down` says why). */
  alive: boolean;
  down: string | undefined;
  lastReplyAt: number;
  /** Each connection's own number in this worker (a new connection, a new number). */
  generation: number;
  timeoutMs: number;
  /** The coroutine of its reader (a store call made there, by a heal, cannot wait for its own reader). */
  reader: LuaThread | undefined;
}

/** What start() was given: settings, the slot map, the connect and restored hooks, the router's wake-up. */
export const hooks: {
  settings: Settings | undefined;
  map: ShardMap | undefined;
  onConnect: ((this: void) => void) | undefined;
  onRestored: RestoredHook | undefined;
  routerWake: NgxSemaphore | undefined;
} = { settings: undefined, map: undefined, onConnect: undefined, onRestored: undefined, routerWake: undefined };

/** Shards by node (`host:port`), and the shard each channel was sent to. */
export const shards = new LuaMap<string, Shard>();
export const shardOf = new LuaMap<string, Shard>();
/** Channels a shard stopped carrying, to be restored: when they were last known carried (ms). */
export const lostAt = new LuaMap<string, number>();

export function newSemaphore(): NgxSemaphore {
  const [sema, err] = semaphore.new(0);
  if (sema === undefined) {
    error(`pushgate hub: failed to create semaphore: ${err}`);
  }
  return sema;
}

export /** A shard stopped carrying `channel`: lost notice (once until restored), subscribe again. */
function lose(channel: string, sinceMs: number): void {
  shardOf.delete(channel);
  if (registry.channelLost(channel) && !lostAt.has(channel)) {
    lostAt.set(channel, sinceMs);
    fanout.noticeChannel(channel, "redis-lost");
  }
}

/** Redis confirmed `channel` again after a loss: restored notice, then what history kept meanwhile. */
export function restore(channel: string): void {
  const since = lostAt.get(channel);
  if (since === undefined) {
    return;
  }
  lostAt.delete(channel);
  fanout.noticeChannel(channel, "redis-restored");
  const after = registry.resumePositionOf(channel, since);
  if (after === undefined || hooks.onRestored === undefined) {
    return;
  }
  const [gaps, missed] = hooks.onRestored([channel], { [channel]: after });
  if (gaps === undefined) {
    ngx.log(ngx.WARN, "pushgate hub: failed to read what was missed: ", missed);
    return;
  }
  fanout.deliverMissed(gaps, missed);
}

/** A shard lost `channel` for good reason (a redirect, a push, its connection): the router routes it again. */
export function rerouteLater(channel: string, sinceMs: number): void {
  lose(channel, sinceMs);
  hooks.map?.changed();
  hooks.routerWake?.post(1);
}
