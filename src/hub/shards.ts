// The hub's Redis connections in a Redis Cluster (sharded pub/sub): per worker, one connection per
// primary (shard.ts), which carries the channels of its slots, each SSUBSCRIBEd there, and this
// worker's store commands to that node (mux.ts). A router timer sends what the registry asks for
// to the shard of each channel; each shard (the state they share: carried.ts) is a timer of its
// own (a cosocket belongs to the thread that made it): its thread reads (and fans out), a light
// thread it spawns writes its outbox. When a shard stops carrying a
// channel — its connection ends (a failover), MOVED answers SSUBSCRIBE, or the server pushes
// `sunsubscribe` (the slot moved) — the channel's streams get the redis-lost notice, the router
// subscribes it again on the owner the refreshed slot map names, and on confirmation the streams
// get redis-restored and what history kept meanwhile, as after a Redis restart in standalone mode.

import type { Settings } from "../config/schema";
import { hooks, lose, lostAt, newSemaphore, ShardMap, shardOf } from "./carried";
import type { RestoredHook } from "./connection";
import * as fanout from "./fanout";
import * as registry from "./registry";
import { shardFor } from "./shard";

export type { ShardMap };

const TICK_S = 0.25;
let routing = false;

/** Sends what the registry asks for to the shards of the channels. */
function routeOnce(): void {
  const [subscribe, unsubscribe] = registry.reconcile(ngx.now());
  for (const channel of subscribe) {
    const [owner, err] = hooks.map!.ownerOf(channel);
    const shard = owner !== undefined ? shardFor(owner) : undefined;
    if (shard === undefined || !shard.alive) {
      if (owner === undefined) {
        ngx.log(ngx.WARN, "pushgate hub: ", err as string);
      }
      lose(channel, math.floor(ngx.now() * 1000)); // tried again on the next tick
    } else {
      shard.outbox.push(["SSUBSCRIBE", channel]);
      shardOf.set(channel, shard);
      shard.wake.post(1);
    }
  }
  for (const channel of unsubscribe) {
    const shard = shardOf.get(channel);
    shardOf.delete(channel);
    lostAt.delete(channel);
    if (shard !== undefined && shard.alive) {
      shard.outbox.push(["SUNSUBSCRIBE", channel]);
      shard.wake.post(1);
    } else {
      registry.confirmed(channel);
    }
  }
}

function route(this: void, premature: boolean): void {
  if (premature) {
    return;
  }
  hooks.onConnect?.(); // backends may FCALL the functions on any primary from the start
  routing = true;
  while (!ngx.worker.exiting()) {
    routeOnce();
    hooks.routerWake!.wait(TICK_S);
  }
  routing = false;
  fanout.endAll("shutdown");
}

/** Starts this worker's router (init_worker, shared mode, cluster). */
export function start(settings: Settings, shardMap: ShardMap, connectHook: (this: void) => void, restoredHook: RestoredHook): void {
  hooks.settings = settings;
  hooks.map = shardMap;
  hooks.onConnect = connectHook;
  hooks.onRestored = restoredHook;
  hooks.routerWake = newSemaphore();
  const [ok, err] = ngx.timer.at(0, route);
  if (ok === undefined) {
    error(`pushgate hub: failed to start: ${err}`);
  }
}

/** The router runs (each channel's shard connects on demand): new streams need not wait. */
export function isConnected(): boolean {
  return routing;
}

/** The router runs and every channel in use is carried (none waits for a shard to come back). */
export function isHealthy(): boolean {
  if (!routing) {
    return false;
  }
  for (const [channel] of lostAt) {
    if (registry.resumePositionOf(channel, 0) !== undefined) {
      return false;
    }
    lostAt.delete(channel); // nobody uses it any more
  }
  return true;
}

export function wakeRouter(): void {
  hooks.routerWake?.post(1);
}
