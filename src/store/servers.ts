// Redis as a set of servers, and raw connections for what a session does not carry: which
// servers take commands (the one primary, or every primary of a cluster), whether they all answer
// a PING, loading Pushgate's functions into each, the keys matching a pattern on each (SCAN), and
// a raw pooled connection for pipelines (the server API's batches, outside a cluster). In a cluster
// each goes through this worker's one connection per primary (hub/mux.ts).

import type { RedisAddress, Settings } from "../config/schema";
import * as redis from "../host/redis";
import { Failure, UNAVAILABLE } from "../protocol/failure";
import * as mux from "../hub/mux";
import * as functions from "./functions";
import { open } from "./pool";
import * as topology from "./topology";

/**
 * A raw pooled connection, for what a session does not carry (pipelines): to the one Redis that
 * takes commands; none in a cluster (unavailable: the worker's one connection per primary is the
 * hub's, hub/mux.ts). Hand it back with release().
 */
export function acquire(settings: Settings, key?: string): LuaMultiReturn<[RestyRedis] | [undefined, Failure]> {
  if (topology.isCluster(settings)) {
    // one connection per worker and primary: a cluster's pipelines go through store/cluster/pipeline
    ngx.log(ngx.ERR, `a raw redis connection is not offered in a redis cluster (key ${key ?? "none"})`);
    return $multi(undefined, UNAVAILABLE);
  }
  const [session, failure] = open(settings);
  if (session === undefined) {
    return $multi(undefined, failure);
  }
  if (session.red === undefined) {
    return $multi(undefined, UNAVAILABLE);
  }
  return $multi(session.red);
}

/** keysMatching on every primary of a cluster, through this worker's connection to each (hub/mux.ts). */
function scanPrimaries(
  settings: Settings,
  servers: RedisAddress[],
  match: string,
  max: number,
): LuaMultiReturn<[{ keys: string[]; truncated: boolean }] | [undefined, Failure]> {
  const found: string[] = [];
  for (const address of servers) {
    let cursor = "0";
    do {
      const [page, scanErr] = mux.one(address, ["SCAN", cursor, "MATCH", match, "COUNT", "1000"], settings.redisTimeoutMs);
      if (page === undefined || page === false) {
        ngx.log(ngx.ERR, `failed to list keys: ${scanErr}`);
        return $multi(undefined, UNAVAILABLE);
      }
      const [next, keys] = page as [string, string[]];
      cursor = next;
      for (const key of keys) {
        if (found.length >= max) {
          return $multi({ keys: found, truncated: true });
        }
        found.push(key);
      }
    } while (cursor !== "0");
  }
  return $multi({ keys: found, truncated: false });
}

interface ScanCall {
  scan(this: ScanCall, ...args: string[]): LuaMultiReturn<[[string, string[]]] | [undefined | false, string]>;
}

/**
 * The keys matching `match` (SCAN MATCH) on the one Redis, or on every primary of a cluster: at
 * most `max`, and whether there were more.
 */
export function keysMatching(settings: Settings, match: string, max: number): LuaMultiReturn<[{ keys: string[]; truncated: boolean }] | [undefined, Failure]> {
  const [servers, err] = commandServers(settings, false);
  if (servers === undefined) {
    ngx.log(ngx.ERR, `failed to list keys: ${err}`);
    return $multi(undefined, UNAVAILABLE);
  }
  const found: string[] = [];
  if (topology.isCluster(settings)) {
    return scanPrimaries(settings, servers, match, max);
  }
  for (const address of servers) {
    const [red, connectErr] = redis.connect(address, settings.redisTimeoutMs);
    if (red === undefined) {
      ngx.log(ngx.ERR, `failed to list keys: ${connectErr}`);
      return $multi(undefined, UNAVAILABLE);
    }
    let cursor = "0";
    do {
      const [page, scanErr] = (red as unknown as ScanCall).scan(cursor, "MATCH", match, "COUNT", "1000");
      if (page === undefined || page === false) {
        redis.release(red, page === undefined);
        ngx.log(ngx.ERR, `failed to list keys: ${scanErr}`);
        return $multi(undefined, UNAVAILABLE);
      }
      cursor = page[0];
      for (const key of page[1]) {
        if (found.length >= max) {
          redis.release(red);
          return $multi({ keys: found, truncated: true });
        }
        found.push(key);
      }
    } while (cursor !== "0");
    redis.release(red);
  }
  return $multi({ keys: found, truncated: false });
}

/** Hands back a connection from acquire(); `lost`: a call broke it, close it instead. */
export function release(red: RestyRedis, lost = false): void {
  redis.release(red, lost);
}

/** The Redis servers that take commands: the one primary, or every primary of the cluster. */
function commandServers(settings: Settings, fresh: boolean): LuaMultiReturn<[RedisAddress[]] | [undefined, string]> {
  if (topology.isCluster(settings)) {
    return topology.primaries(settings, fresh);
  }
  const [address, err] = topology.primaryAddress(settings);
  if (address === undefined) {
    return $multi(undefined, err);
  }
  return $multi([address]);
}

function pingOne(this: void, red: RestyRedis): LuaMultiReturn<[true] | [undefined, string]> {
  const [pong, err] = red.ping();
  if (pong === undefined || pong === false) {
    return $multi(undefined, `redis did not answer PING: ${err}`);
  }
  return $multi(true);
}

/** Whether Redis (every primary of a cluster) answers a PING; undefined and why when not. */
export function ping(settings: Settings): LuaMultiReturn<[true] | [undefined, string]> {
  const [servers, err] = commandServers(settings, false);
  if (servers === undefined) {
    return $multi(undefined, err);
  }
  const [answered, pingErr] = topology.isCluster(settings)
    ? topology.onEachPrimary(servers, settings.redisTimeoutMs, ["PING"])
    : topology.onEach(servers, settings.redisTimeoutMs, pingOne);
  if (answered === undefined) {
    topology.forgetPrimary();
    return $multi(undefined, pingErr);
  }
  return $multi(true);
}

/** In a cluster: the primary (`host:port`) and the number of this worker's connection to it that loaded the library. */
const loadedThrough = new LuaMap<string, number>();

/** Loads the library on each primary, through this worker's connection to it, once per connection (a new primary, a restarted one: a new connection). */
function loadOnPrimaries(servers: RedisAddress[], timeoutMs: number): LuaMultiReturn<[true] | [undefined, string]> {
  for (const address of servers) {
    const name = `${address.host}:${address.port}`;
    const through = mux.generation(address);
    if (through === undefined || loadedThrough.get(name) !== through) {
      const [loaded, err] = mux.one(address, functions.loadWords(), timeoutMs);
      if (loaded === undefined || loaded === false) {
        return $multi(undefined, `${name}: ${err}`);
      }
      const now = mux.generation(address);
      if (now !== undefined) {
        loadedThrough.set(name, now);
      }
    }
  }
  return $multi(true);
}

/**
 * Loads Pushgate's functions into Redis (every primary of a cluster, asking it for its primaries
 * first): at start, and after the hub reconnects. A primary promoted later gets them from the
 * FCALL that misses them (functions.call), and replicas from replication.
 */
export function loadFunctions(settings: Settings): LuaMultiReturn<[true] | [undefined, string]> {
  const [servers, err] = commandServers(settings, true);
  if (servers === undefined) {
    return $multi(undefined, `failed to load the pushgate functions: ${err}`);
  }
  const [loaded, loadErr] = topology.isCluster(settings)
    ? loadOnPrimaries(servers, settings.redisTimeoutMs)
    : topology.onEach(servers, settings.redisTimeoutMs, functions.loadLibrary);
  if (loaded === undefined) {
    return $multi(undefined, `failed to load the pushgate functions: ${loadErr}`);
  }
  return $multi(true);
}
