// The store's connections: one bounded pool per worker towards the Redis that takes commands
// (standalone today: the first configured address), and the one prologue every store operation
// shares — take a connection, call a Redis function, hand the connection back or close it when
// the call broke it, and say "unavailable" when Redis cannot be reached.

import type { RedisAddress, Settings } from "../config/schema";
import * as metrics from "../host/metrics";
import * as redis from "../host/redis";
import { Failure, UNAVAILABLE } from "../protocol/failure";
import * as functions from "./functions";

/** A reply of one of Pushgate's Redis functions: strings, integers and arrays of them. */
export type Reply = string | number | Reply[];

/** The Redis that takes commands: the first configured address (the others carry pub/sub). */
export function primaryOf(settings: Settings): RedisAddress {
  return settings.redis[0];
}

/** A pooled connection to the primary, or UNAVAILABLE (the cause is logged). Hand it back with release(). */
export function acquire(settings: Settings): LuaMultiReturn<[RestyRedis] | [undefined, Failure]> {
  const [red, err] = redis.connect(primaryOf(settings), settings.redisTimeoutMs);
  if (red === undefined) {
    ngx.log(ngx.ERR, err);
    metrics.redisError("connect");
    return $multi(undefined, UNAVAILABLE);
  }
  return $multi(red);
}

/** Hands a connection back to the pool; `lost`: the connection broke, close it instead. */
export function release(red: RestyRedis, lost = false): void {
  redis.release(red, lost);
}

/**
 * Calls Redis function `name` on a connection taken with acquire(). On failure the connection is
 * already released (or closed) and the cause logged as "failed to <verb>".
 */
export function callOn(red: RestyRedis, verb: string, name: string, keys: string[], args: string[]): LuaMultiReturn<[Reply] | [undefined, Failure]> {
  const [reply, err, lost] = functions.call(red, name, keys, args);
  if (err !== undefined) {
    release(red, lost === true);
    ngx.log(ngx.ERR, `failed to ${verb}: ${err}`);
    metrics.redisError(verb);
    return $multi(undefined, UNAVAILABLE);
  }
  return $multi(reply as Reply);
}

/** One Redis function call on a pooled connection: acquire, call, release. */
export function call(settings: Settings, verb: string, name: string, keys: string[], args: string[]): LuaMultiReturn<[Reply] | [undefined, Failure]> {
  const [red, failure] = acquire(settings);
  if (red === undefined) {
    return $multi(undefined, failure);
  }
  const [reply, callFailure] = callOn(red, verb, name, keys, args);
  if (reply === undefined) {
    return $multi(undefined, callFailure);
  }
  release(red);
  return $multi(reply);
}

/** Whether the primary answers a PING; undefined and why when it does not. */
export function ping(settings: Settings): LuaMultiReturn<[true] | [undefined, string]> {
  const [red, err] = redis.connect(primaryOf(settings), settings.redisTimeoutMs);
  if (red === undefined) {
    return $multi(undefined, err);
  }
  const [pong, pingErr] = red.ping();
  redis.release(red, pong === undefined);
  if (pong === undefined || pong === false) {
    return $multi(undefined, `redis did not answer PING: ${pingErr}`);
  }
  return $multi(true);
}

/** Loads Pushgate's functions into the primary (at start, and after the hub reconnects). */
export function loadFunctions(settings: Settings): LuaMultiReturn<[true] | [undefined, string]> {
  const [red, err] = redis.connect(primaryOf(settings), settings.redisTimeoutMs);
  if (red === undefined) {
    return $multi(undefined, `failed to load the pushgate functions: ${err}`);
  }
  const [loaded, loadErr] = functions.loadLibrary(red);
  redis.release(red, loaded === undefined);
  if (loaded === undefined) {
    return $multi(undefined, loadErr);
  }
  return $multi(true);
}
