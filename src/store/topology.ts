// Where the store's commands go: one Redis (standalone: the first configured address), or a
// Redis Cluster (redis+cluster:// seed nodes), where each command goes to the primary that owns
// its first key's hash slot through the cluster client (src/store/cluster/client.ts), which
// follows MOVED and ASK and asks the cluster again for its slot map when it changed.

import type { RedisAddress, Settings } from "../config/schema";
import * as redis from "../host/redis";
import * as mux from "../hub/mux";
import * as cluster from "./cluster/client";
import * as functions from "./functions";
import { keySlot } from "../protocol/slot";
import { ownerOf } from "./cluster/slots";

/** The hub asks the cluster again for its slot map at most this often (seconds). */
const MAP_REFRESH_S = 0.1;

/** This worker's view of the cluster, learnt on first use and kept for the worker's life. */
let state: cluster.ClusterState | undefined;

/** Whether the settings name a Redis Cluster (redis+cluster://). */
export function isCluster(settings: Settings): boolean {
  return settings.redis.length > 0 && settings.redis[0].cluster === true;
}

/** This worker's cluster state; the first call asks the seed nodes for the slot map. */
export function clusterOf(settings: Settings): LuaMultiReturn<[cluster.ClusterState] | [undefined, string]> {
  if (state !== undefined) {
    return $multi(state);
  }
  const seeds: cluster.Seed[] = [];
  for (const address of settings.redis) {
    seeds.push({ host: address.host, port: address.port });
  }
  const [discovered, err] = cluster.discover(seeds, settings.redisTimeoutMs, settings.redis[0].password);
  if (discovered === undefined) {
    return $multi(undefined, err);
  }
  state ??= discovered;
  return $multi(state);
}

/** The connection address of every primary that serves slots (after asking the cluster again when `fresh`). */
export function primaries(settings: Settings, fresh: boolean): LuaMultiReturn<[RedisAddress[]] | [undefined, string]> {
  const [known, err] = clusterOf(settings);
  if (known === undefined) {
    return $multi(undefined, err);
  }
  if (fresh) {
    const [refreshed, refreshErr] = cluster.refresh(known);
    if (refreshed === undefined) {
      return $multi(undefined, refreshErr);
    }
  }
  const seen = new LuaSet<string>();
  const found: RedisAddress[] = [];
  for (const range of known.map.ranges) {
    const node = range.primary;
    if (!seen.has(node.name)) {
      seen.add(node.name);
      found.push(cluster.addressFor(known, node.name, node.host, node.port));
    }
  }
  return $multi(found);
}

/** resty.redis sends any command by its lower-case name; WAIT is not in its declared list. */
interface WaitCall {
  wait(this: WaitCall, replicas: string, timeoutMs: string): LuaMultiReturn<[RedisReply] | [undefined | false, string]>;
}

/**
 * After a write on `red`: waits (WAIT) until `replicas` replicas have it, at most `timeoutMs`.
 * Undefined, why, and whether the connection is lost when fewer did.
 */
export function waitForReplicas(red: RestyRedis, replicas: number, timeoutMs: number): LuaMultiReturn<[true] | [undefined, string, boolean]> {
  const [count, err] = (red as unknown as WaitCall).wait(`${replicas}`, `${timeoutMs}`);
  if (count === undefined || count === false) {
    return $multi(undefined, `failed to wait for replicas: ${err}`, count === undefined);
  }
  if ((count as number) < replicas) {
    return $multi(undefined, `${count as number} of ${replicas} replicas have the message after ${timeoutMs} ms`, false);
  }
  return $multi(true);
}

/** Whether an error reply says the library is missing on that node (new to the cluster, or restarted empty). */
function functionMissing(err: string): boolean {
  return string.find(err, "Function not found", 1, true)[0] !== undefined;
}

/**
 * FCALL `name` on the primary owning the slot of `keys[0]` (every key of one call shares it),
 * following redirects; the library is loaded on a node that lacks it, then the call sent again.
 * Returns the reply, or undefined, the error, and whether it was a failure to reach Redis rather
 * than a Redis error reply. `idempotent`: a call lost with its connection may be sent again.
 * `replicas`: WAIT, sent with the call on the same connection, until that many replicas have its
 * writes (else an error).
 */
export function routedCall(
  known: cluster.ClusterState,
  name: string,
  keys: string[],
  args: string[],
  idempotent: boolean,
  replicas: number,
): LuaMultiReturn<[RedisReply] | [undefined, string, boolean]> {
  const commands = [functions.fcallWords(name, keys, args)];
  if (replicas > 0) {
    commands.push(["WAIT", `${replicas}`, `${known.timeoutMs}`]);
  }
  const attempt = cluster.begin(known, keys[0], idempotent);
  let loaded = false;
  for (;;) {
    const [outcome, replies] = cluster.step(known, attempt, commands, replicas > 0 ? known.timeoutMs : 0);
    if (outcome === undefined) {
      return $multi(undefined, `${replies as unknown as string}`, true);
    }
    if (outcome === "done") {
      const reply = (replies as unknown[])[0];
      if (!cluster.isErrorReply(reply)) {
        if (replicas > 0) {
          const count = (replies as unknown[])[1];
          if (cluster.isErrorReply(count)) {
            return $multi(undefined, `failed to wait for replicas: ${count[1]}`, false);
          }
          if ((count as number) < replicas) {
            return $multi(undefined, `${count as number} of ${replicas} replicas have the message after ${known.timeoutMs} ms`, false);
          }
        }
        return $multi(reply as RedisReply);
      }
      const err = `${reply[1]}`;
      if (loaded || !functionMissing(err)) {
        return $multi(undefined, err, false);
      }
      loaded = true;
      const [done, loadErr] = mux.one(cluster.addressFor(known, attempt.node, attempt.host, attempt.port), functions.loadWords(), known.timeoutMs);
      if (done === undefined || done === false) {
        return $multi(undefined, `failed to load the pushgate functions into redis at ${attempt.node}: ${loadErr}`, done === undefined);
      }
    }
  }
}

/** Sends `words` to each of `addresses` on this worker's connections in a cluster (hub/mux.ts); the first error, if any. */
export function onEachPrimary(addresses: RedisAddress[], timeoutMs: number, words: string[]): LuaMultiReturn<[true] | [undefined, string]> {
  for (const address of addresses) {
    const [reply, err] = mux.one(address, words, timeoutMs);
    if (reply === undefined || reply === false) {
      return $multi(undefined, `${address.host}:${address.port}: ${err}`);
    }
  }
  return $multi(true);
}

/** Runs `fn` on a pooled connection to each of `addresses`; the first error, if any. */
export function onEach(
  addresses: RedisAddress[],
  timeoutMs: number,
  fn: (this: void, red: RestyRedis) => LuaMultiReturn<[true] | [undefined, string]>,
): LuaMultiReturn<[true] | [undefined, string]> {
  for (const address of addresses) {
    const [red, err] = redis.connect(address, timeoutMs);
    if (red === undefined) {
      return $multi(undefined, err);
    }
    const [done, fnErr] = fn(red);
    redis.release(red, done === undefined);
    if (done === undefined) {
      return $multi(undefined, `${address.host}:${address.port}: ${fnErr}`);
    }
  }
  return $multi(true);
}

/** The primary owning `channel`'s slot (the hub subscribes it there with SSUBSCRIBE). */
export function channelOwner(settings: Settings, channel: string): LuaMultiReturn<[RedisAddress] | [undefined, string]> {
  const [known, err] = clusterOf(settings);
  if (known === undefined) {
    return $multi(undefined, err);
  }
  const owner = ownerOf(known.map, keySlot(channel));
  if (owner === undefined) {
    return $multi(undefined, `no cluster node serves the slot of channel ${channel}`);
  }
  return $multi(cluster.addressFor(known, owner.name, owner.host, owner.port));
}

/** Something said the slot map is stale (a redirect, a node gone): ask the cluster again, at most so often. */
export function mapChanged(settings: Settings): void {
  const [known] = clusterOf(settings);
  if (known !== undefined && !known.discovering && ngx.now() - known.discoveredAt >= MAP_REFRESH_S) {
    const [refreshed, err] = cluster.refresh(known);
    if (refreshed === undefined) {
      ngx.log(ngx.WARN, err);
    }
  }
}

/** The primary the sentinels named last (redis+sentinel://), until a call to it fails. */
let sentinelPrimary: RedisAddress | undefined;

/** The connector's sentinel module: Debian's name first, then OpenResty's. */
const SENTINEL_MODULES = ["nginx.redis.sentinel", "resty.redis.sentinel"];

interface SentinelModule {
  get_master: (this: void, sentinel: RestyRedis, name: string) => LuaMultiReturn<[{ host: string; port: number | string }] | [undefined, string]>;
}

/**
 * The Redis that takes commands outside a cluster: the first configured address, or with
 * sentinels the primary they name now (asked with the Debian-packaged connector's sentinel module).
 */
export function primaryAddress(settings: Settings): LuaMultiReturn<[RedisAddress] | [undefined, string]> {
  const first = settings.redis[0];
  if (first.sentinel === undefined) {
    return $multi(first);
  }
  if (sentinelPrimary !== undefined) {
    return $multi(sentinelPrimary);
  }
  let mod: SentinelModule | undefined;
  for (const moduleName of SENTINEL_MODULES) {
    const [found, loaded] = pcall(require, moduleName);
    if (found && mod === undefined) {
      mod = loaded as SentinelModule;
    }
  }
  if (mod === undefined) {
    return $multi(undefined, `the sentinel module (${SENTINEL_MODULES.join(" or ")}) is missing: install lua-nginx-redis-connector`);
  }
  let lastErr = "no sentinel given";
  for (const sentinel of settings.redis) {
    const [red, err] = redis.connect({ host: sentinel.host, port: sentinel.port, db: 0, url: sentinel.url }, settings.redisTimeoutMs);
    if (red === undefined) {
      lastErr = err;
    } else {
      const [master, askErr] = mod.get_master(red, first.sentinel);
      redis.release(red, master === undefined);
      if (master !== undefined) {
        const port = tonumber(master.port) ?? 6379;
        sentinelPrimary = { host: master.host, port, db: 0, password: first.password, url: `redis://${master.host}:${port}/0` };
        return $multi(sentinelPrimary);
      }
      lastErr = `${askErr}`;
    }
  }
  return $multi(undefined, `failed to ask the sentinels for ${first.sentinel}: ${lastErr}`);
}

/** A call to the sentinels' primary failed (unreachable, or now a replica): ask them again next time. */
export function forgetPrimary(): void {
  sentinelPrimary = undefined;
}
