// The hub's Redis connections in a Redis Cluster (sharded pub/sub): per worker, one connection in
// subscribe mode per shard that carries a channel in use, each channel SSUBSCRIBEd on the primary
// owning its slot. A router timer sends what the registry asks for to the shard of each channel;
// each shard is a timer of its own (a cosocket belongs to the thread that made it): its thread
// reads (and fans out), a light thread it spawns writes its outbox. When a shard stops carrying a
// channel — its connection ends (a failover), MOVED answers SSUBSCRIBE, or the server pushes
// `sunsubscribe` (the slot moved) — the channel's streams get the redis-lost notice, the router
// subscribes it again on the owner the refreshed slot map names, and on confirmation the streams
// get redis-restored and what history kept meanwhile, as after a Redis restart in standalone mode.

import semaphore = require("ngx.semaphore");
import type { RedisAddress, Settings } from "../config/schema";
import * as redis from "../host/redis";
import { encodeCommand, readReply } from "../host/resp";
import type { RestoredHook } from "./connection";
import * as registry from "./registry";

/** Where channels live: the primary owning a channel's slot, and a call when the map looks stale. */
export interface ShardMap {
  ownerOf: (this: void, channel: string) => LuaMultiReturn<[RedisAddress] | [undefined, string]>;
  changed: (this: void) => void;
}

interface Shard {
  address: RedisAddress;
  /** Commands to send, [verb, channel], and those sent and not answered yet (replies come in order). */
  outbox: Array<[string, string]>;
  sent: Array<[string, string]>;
  wake: NgxSemaphore;
  alive: boolean;
  lastReplyAt: number;
}

const READ_IDLE_MS = 250;
const TICK_S = 0.25;
const PING_EVERY_S = 5;
const LIVENESS_S = 15;
const RETRY_WAIT_S = 0.25;

let config: Settings | undefined;
let map: ShardMap | undefined;
let onConnect: ((this: void) => void) | undefined;
let onRestored: RestoredHook | undefined;
let routerWake: NgxSemaphore | undefined;
let routing = false;
/** Shards by node (`host:port`), and the shard each channel was sent to. */
const shards = new LuaMap<string, Shard>();
const shardOf = new LuaMap<string, Shard>();
/** Channels a shard stopped carrying, to be restored: when they were last known carried (ms). */
const lostAt = new LuaMap<string, number>();

function newSemaphore(): NgxSemaphore {
  const [sema, err] = semaphore.new(0);
  if (sema === undefined) {
    error(`pushgate hub: failed to create semaphore: ${err}`);
  }
  return sema;
}

/** A shard stopped carrying `channel`: lost notice (once until restored), subscribe again. */
function lose(channel: string, sinceMs: number): void {
  shardOf.delete(channel);
  if (registry.channelLost(channel) && !lostAt.has(channel)) {
    lostAt.set(channel, sinceMs);
    registry.noticeChannel(channel, "redis-lost");
  }
}

/** Redis confirmed `channel` again after a loss: restored notice, then what history kept meanwhile. */
function restore(channel: string): void {
  const since = lostAt.get(channel);
  if (since === undefined) {
    return;
  }
  lostAt.delete(channel);
  registry.noticeChannel(channel, "redis-restored");
  const after = registry.resumePositionOf(channel, since);
  if (after === undefined || onRestored === undefined) {
    return;
  }
  const [gaps, missed] = onRestored([channel], { [channel]: after });
  if (gaps === undefined) {
    ngx.log(ngx.WARN, "pushgate hub: failed to read what was missed: ", missed);
    return;
  }
  registry.deliverMissed(gaps, missed);
}

function writerLoop(this: void, shard: Shard, sock: NgxTcpSocket): void {
  let pingedAt = ngx.now();
  while (shard.alive) {
    const commands: string[][] = [];
    for (const item of shard.outbox) {
      shard.sent.push(item);
      commands.push(encodeCommand([item[0], item[1]]));
    }
    shard.outbox = [];
    if (ngx.now() - pingedAt >= PING_EVERY_S) {
      pingedAt = ngx.now();
      shard.sent.push(["PING", ""]);
      commands.push(encodeCommand(["PING"]));
    }
    if (commands.length > 0) {
      const [sent, err] = sock.send(commands);
      if (sent === undefined) {
        ngx.log(ngx.WARN, "pushgate hub: failed to send to redis: ", err);
        sock.close(); // the reader sees the connection end
        return;
      }
    }
    shard.wake.wait(TICK_S);
  }
}

/** One reply of a shard's connection; a redirect or a `sunsubscribe` push loses the channel. */
function dispatch(shard: Shard, parts: string[]): void {
  const kind = parts[0];
  if (kind === "smessage" || kind === "message") {
    registry.deliver(parts[1], parts[2]);
    return;
  }
  const head = shard.sent[0];
  if (kind === "sunsubscribe" && (head === undefined || head[0] !== "SUNSUBSCRIBE" || head[1] !== parts[1])) {
    // not an answer: the server stopped carrying it (its slot moved, or this node is no longer a primary)
    if (shardOf.get(parts[1]) === shard) {
      lose(parts[1], math.floor(shard.lastReplyAt * 1000));
      map?.changed();
      routerWake?.post(1);
    }
    return;
  }
  table.remove(shard.sent, 1);
  if (kind === "ssubscribe" || kind === "sunsubscribe") {
    registry.confirmed(parts[1]);
    if (kind === "ssubscribe") {
      restore(parts[1]);
    }
  }
}

/** An error reply answers the oldest command sent: an SSUBSCRIBE refused (MOVED) is subscribed again. */
function refused(shard: Shard, err: string): void {
  const head = table.remove(shard.sent, 1);
  ngx.log(ngx.INFO, "pushgate hub: ", err);
  if (head !== undefined && head[0] === "SSUBSCRIBE" && shardOf.get(head[1]) === shard) {
    lose(head[1], math.floor(ngx.now() * 1000));
    map?.changed();
    routerWake?.post(1);
  } else if (head !== undefined && head[0] === "SUNSUBSCRIBE") {
    registry.confirmed(head[1]);
  }
}

/** Reads until the connection ends; why it ended. */
function readLoop(shard: Shard, conn: NgxTcpSocket, settings: Settings): string {
  for (;;) {
    const [reply, err] = readReply(conn, READ_IDLE_MS, settings.redisTimeoutMs);
    if (reply !== undefined) {
      shard.lastReplyAt = ngx.now();
      if (type(reply) === "table") {
        dispatch(shard, reply as string[]);
      } else {
        table.remove(shard.sent, 1); // +PONG: a PING on a connection with no subscription left
      }
    } else if (string.sub(err, 1, 12) === "redis error:") {
      shard.lastReplyAt = ngx.now();
      refused(shard, err);
    } else if (err !== "timeout") {
      return err;
    } else if (ngx.worker.exiting()) {
      return "exiting";
    } else if (ngx.now() - shard.lastReplyAt > LIVENESS_S) {
      return "no reply to ping";
    }
  }
}

/** A shard's life: connect, write and read until the connection ends, then hand its channels back. */
function runShard(this: void, premature: boolean, name: string, shard: Shard): void {
  const settings = config!;
  let why = "exiting";
  if (!premature) {
    const [conn, err] = redis.connectSubscriber(shard.address, settings.redisTimeoutMs);
    if (conn === undefined) {
      why = err;
      ngx.sleep(RETRY_WAIT_S); // a dead primary: give the cluster a moment to promote its replica
    } else {
      shard.lastReplyAt = ngx.now();
      // make sure this primary has the pushgate functions (a node new to the cluster has none)
      onConnect?.();
      const writer = ngx.thread.spawn(writerLoop, shard, conn);
      why = readLoop(shard, conn, settings);
      shard.alive = false;
      shard.wake.post(1);
      ngx.thread.kill(writer);
      conn.close();
    }
  }
  shard.alive = false;
  shards.delete(name);
  const since = math.floor(shard.lastReplyAt * 1000);
  const lost: string[] = [];
  for (const [channel, owner] of shardOf) {
    if (owner === shard) {
      lost.push(channel);
    }
  }
  // an unsubscribe this connection can no longer carry out is as good as done
  for (const pending of [shard.sent, shard.outbox]) {
    for (const item of pending) {
      if (item[0] === "SUNSUBSCRIBE") {
        registry.confirmed(item[1]);
      }
    }
  }
  for (const channel of lost) {
    lose(channel, since);
  }
  if (why !== "exiting") {
    ngx.log(ngx.WARN, `pushgate hub: redis shard ${name} lost: ${why}`);
    registry.countReconnect();
    map?.changed();
  }
  routerWake?.post(1);
}

function shardFor(address: RedisAddress): Shard | undefined {
  const name = `${address.host}:${address.port}`;
  let shard = shards.get(name);
  if (shard === undefined) {
    shard = { address, outbox: [], sent: [], wake: newSemaphore(), alive: true, lastReplyAt: ngx.now() };
    const [ok, err] = ngx.timer.at(0, runShard, name, shard);
    if (ok === undefined) {
      ngx.log(ngx.ERR, "pushgate hub: failed to start a shard: ", err);
      return undefined;
    }
    shards.set(name, shard);
  }
  return shard;
}

/** Sends what the registry asks for to the shards of the channels. */
function routeOnce(): void {
  const [subscribe, unsubscribe] = registry.reconcile(ngx.now());
  for (const channel of subscribe) {
    const [owner, err] = map!.ownerOf(channel);
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
  onConnect?.(); // backends may FCALL the functions on any primary from the start
  routing = true;
  while (!ngx.worker.exiting()) {
    routeOnce();
    routerWake!.wait(TICK_S);
  }
  routing = false;
  registry.endAll("shutdown");
}

/** Starts this worker's router (init_worker, shared mode, cluster). */
export function start(settings: Settings, shardMap: ShardMap, connectHook: (this: void) => void, restoredHook: RestoredHook): void {
  config = settings;
  map = shardMap;
  onConnect = connectHook;
  onRestored = restoredHook;
  routerWake = newSemaphore();
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
  routerWake?.post(1);
}
