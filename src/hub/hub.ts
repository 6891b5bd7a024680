// The hub of `shared` mode, one per worker: streams register here (a subscriber: a bounded queue
// and a semaphore, queue.ts), the registry tracks which channels Redis must carry (registry.ts),
// and one Redis connection in subscribe mode fans messages out (connection.ts).

import semaphore = require("ngx.semaphore");
import type { Settings } from "../config/schema";
import type { HubStats } from "../protocol/status";
import * as connection from "./connection";
import * as fanout from "./fanout";
import * as queue from "./queue";
import type { Subscriber } from "./queue";
import * as registry from "./registry";

export type { Subscriber };
export { NOTICE_TEXT } from "../protocol/notices";

/**
 * Starts the hub of this worker (init_worker, shared mode): `connectHook` runs on every new
 * connection, `restoredHook` reads from history what the channels in use missed while it was down.
 */
export function start(settings: Settings, connectHook: (this: void) => void, restoredHook: connection.RestoredHook): void {
  fanout.configure({ messages: settings.queueMessages, bytes: settings.queueBytes, overflow: settings.overflow });
  connection.start(settings, connectHook, restoredHook);
}

export function isConnected(): boolean {
  return connection.isConnected();
}

/** Registers a subscriber for `names`; the connection subscribes what Redis does not carry yet. */
export function join(names: string[]): LuaMultiReturn<[Subscriber] | [undefined, string]> {
  const [sema, err] = semaphore.new(0);
  if (sema === undefined) {
    return $multi(undefined, `failed to create semaphore: ${err}`);
  }
  const subscriber = queue.create(sema, names);
  if (registry.join(subscriber)) {
    connection.wakeWriter();
  }
  return $multi(subscriber);
}

export function leave(subscriber: Subscriber): void {
  registry.leave(subscriber);
}

/** Adds channels to a live subscriber; see isReady(). */
export function addChannels(subscriber: Subscriber, names: string[]): void {
  if (registry.addChannels(subscriber, names)) {
    connection.wakeWriter();
  }
}

export function removeChannels(subscriber: Subscriber, names: string[]): void {
  registry.removeChannels(subscriber, names);
}

/** True once Redis has confirmed every channel of the subscriber on the live connection. */
export function isReady(subscriber: Subscriber): boolean {
  return connection.isConnected() && registry.isConfirmed(subscriber);
}

export function stats(): HubStats {
  return fanout.stats(connection.isConnected());
}
