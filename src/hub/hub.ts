// The hub of `shared` mode, one per worker: streams register here (a subscriber: a bounded queue
// and a semaphore, queue.ts), the registry tracks which channels Redis must carry (registry.ts),
// and one Redis connection in subscribe mode fans messages out (connection.ts); in a Redis
// Cluster, one RESP3 connection per primary (shards.ts, shard.ts), which carries both the sharded
// subscriptions of its slots and the store's commands for that primary (mux.ts).

import semaphore = require("ngx.semaphore");
import type { Settings } from "../config/schema";
import type { HubStats } from "../protocol/status";
import * as connection from "./connection";
import * as fanout from "./fanout";
import * as queue from "./queue";
import type { Subscriber } from "./queue";
import * as registry from "./registry";
import * as shards from "./shards";

export type { Subscriber };
export { NOTICE_TEXT } from "../protocol/notices";

/** Set in a Redis Cluster: channels are subscribed on their shards. */
let sharded = false;

/**
 * Starts the hub of this worker (init_worker, shared mode): `connectHook` runs on every new
 * connection, `restoredHook` reads from history what the channels in use missed while it was down.
 * With `shardMap` (a Redis Cluster) each channel is subscribed on the shard owning its slot; with
 * `primary` (sentinels) each connection goes where it names.
 */
export function start(
  settings: Settings,
  connectHook: (this: void) => void,
  restoredHook: connection.RestoredHook,
  shardMap?: shards.ShardMap,
  primary?: connection.PrimaryHook,
): void {
  fanout.configure({ messages: settings.queueMessages, bytes: settings.queueBytes, overflow: settings.overflow });
  if (shardMap !== undefined) {
    sharded = true;
    shards.start(settings, shardMap, connectHook, restoredHook);
  } else {
    connection.start(settings, connectHook, restoredHook, primary);
  }
}

export function isConnected(): boolean {
  return sharded ? shards.isConnected() : connection.isConnected();
}

function wake(): void {
  if (sharded) {
    shards.wakeRouter();
  } else {
    connection.wakeWriter();
  }
}

/** Registers a subscriber for `names`; the connection subscribes what Redis does not carry yet. */
export function join(names: string[]): LuaMultiReturn<[Subscriber] | [undefined, string]> {
  const [sema, err] = semaphore.new(0);
  if (sema === undefined) {
    return $multi(undefined, `failed to create semaphore: ${err}`);
  }
  const subscriber = queue.create(sema, names);
  if (registry.join(subscriber)) {
    wake();
  }
  return $multi(subscriber);
}

export function leave(subscriber: Subscriber): void {
  registry.leave(subscriber);
}

/** Adds channels to a live subscriber; see isReady(). */
export function addChannels(subscriber: Subscriber, names: string[]): void {
  if (registry.addChannels(subscriber, names)) {
    wake();
  }
}

export function removeChannels(subscriber: Subscriber, names: string[]): void {
  registry.removeChannels(subscriber, names);
}

/** True once Redis has confirmed every channel of the subscriber on the live connection. */
export function isReady(subscriber: Subscriber): boolean {
  return isConnected() && registry.isConfirmed(subscriber);
}

export function stats(): HubStats {
  return fanout.stats(sharded ? shards.isHealthy() : connection.isConnected());
}
