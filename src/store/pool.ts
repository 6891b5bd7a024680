// The store's connections and the one prologue every store operation shares: open a session
// (standalone: a pooled connection to the one Redis that takes commands; cluster: this worker's
// slot map, each command then going to the primary owning its key's slot, see topology.ts), call
// Redis functions and commands in it, close it (handing the connection back, or closing it when
// a call broke it), and say "unavailable" when Redis cannot be reached.

import type { Settings } from "../config/schema";
import * as metrics from "../host/metrics";
import * as redis from "../host/redis";
import { Failure, UNAVAILABLE } from "../protocol/failure";
import * as cluster from "./cluster/client";
import * as functions from "./functions";
import * as topology from "./topology";

/** A reply of one of Pushgate's Redis functions: strings, integers and arrays of them. */
export type Reply = string | number | Reply[];

/** One store operation's way to Redis: a connection (standalone) or the cluster state. */
export interface Session {
  red: RestyRedis | undefined;
  cluster: cluster.ClusterState | undefined;
  /** A call broke the connection: close() closes it instead of pooling it. */
  lost: boolean;
  /** How long a WAIT for replicas may take (ms). */
  timeoutMs: number;
}

/** A session for one operation, or UNAVAILABLE (the cause is logged). End it with close(). */
export function open(settings: Settings): LuaMultiReturn<[Session] | [undefined, Failure]> {
  if (topology.isCluster(settings)) {
    const [known, err] = topology.clusterOf(settings);
    if (known === undefined) {
      ngx.log(ngx.ERR, err);
      return $multi(undefined, UNAVAILABLE);
    }
    return $multi({ red: undefined, cluster: known, lost: false, timeoutMs: settings.redisTimeoutMs });
  }
  const [address, resolveErr] = topology.primaryAddress(settings);
  if (address === undefined) {
    ngx.log(ngx.ERR, resolveErr);
    return $multi(undefined, UNAVAILABLE);
  }
  const [red, err] = redis.connect(address, settings.redisTimeoutMs);
  if (red === undefined) {
    topology.forgetPrimary();
    ngx.log(ngx.ERR, err);
    metrics.redisError("connect");
    return $multi(undefined, UNAVAILABLE);
  }
  return $multi({ red, cluster: undefined, lost: false, timeoutMs: settings.redisTimeoutMs });
}

/** Ends a session: hands its connection back to the pool, or closes it when a call broke it. */
export function close(session: Session): void {
  if (session.red !== undefined) {
    redis.release(session.red, session.lost);
    session.red = undefined;
  }
}

/**
 * Many idempotent FCALLs in one session: pipelined in one round trip on one Redis (standalone,
 * Sentinel), each routed to its key's slot in a cluster. The replies in order (a refused call's
 * as [false, error], see functions.refused), or undefined and the error when Redis could not be
 * reached: the session is spent then, close it.
 */
export function fcallMany(session: Session, calls: functions.FunctionCall[]): LuaMultiReturn<[functions.BatchReply[]] | [undefined, string]> {
  if (session.cluster !== undefined) {
    const replies: functions.BatchReply[] = [];
    for (const [name, keys, args] of calls) {
      const [reply, err, lost] = topology.routedCall(session.cluster, name, keys, args, true, 0);
      if (reply !== undefined) {
        replies.push(reply);
      } else if (lost === true) {
        return $multi(undefined, `${err}`);
      } else {
        replies.push([false, `${err}`]);
      }
    }
    return $multi(replies);
  }
  if (session.red === undefined || session.lost) {
    return $multi(undefined, "the connection is lost");
  }
  const [replies, err] = functions.callMany(session.red, calls);
  if (replies === undefined) {
    session.lost = true;
    topology.forgetPrimary(); // with sentinels: the primary may be gone
    return $multi(undefined, err);
  }
  return $multi(replies);
}

/**
 * FCALL `name`: the reply, or undefined, the error and whether Redis could not be reached (then
 * the session is spent: close it). In a cluster every key of the call hashes to the slot of
 * `keys[0]`; `idempotent`: a call lost with its connection may be sent again there.
 */
export function fcall(
  session: Session,
  name: string,
  keys: string[],
  args: string[],
  idempotent: boolean,
  replicas = 0,
): LuaMultiReturn<[RedisReply] | [undefined, string, boolean]> {
  if (session.cluster !== undefined) {
    return topology.routedCall(session.cluster, name, keys, args, idempotent, replicas);
  }
  if (session.red === undefined || session.lost) {
    return $multi(undefined, "the connection is lost", true);
  }
  const [reply, err, lost] = functions.call(session.red, name, keys, args);
  if (err !== undefined) {
    session.lost = lost === true;
    if (lost === true || string.find(`${err as string}`, "READONLY", 1, true)[0] !== undefined) {
      topology.forgetPrimary(); // with sentinels: the primary is gone or became a replica
    }
    return $multi(undefined, `${err as string}`, lost === true);
  }
  if (replicas > 0) {
    const [waited, waitErr, waitLost] = topology.waitForReplicas(session.red, replicas, session.timeoutMs);
    if (waited === undefined) {
      session.lost = waitLost;
      return $multi(undefined, waitErr, false);
    }
  }
  return $multi(reply as RedisReply);
}

/** A read-only resty.redis command `name` (lower case) on `key`: what resty.redis returns. */
export function command(session: Session, key: string, name: string, args: string[]): LuaMultiReturn<[RedisReply] | [undefined | false, string]> {
  if (session.cluster !== undefined) {
    return cluster.command(session.cluster, key, true, name, args);
  }
  if (session.red === undefined || session.lost) {
    return $multi(undefined, "the connection is lost");
  }
  const method = (
    session.red as unknown as LuaTable<string, (this: RestyRedis, ...words: string[]) => LuaMultiReturn<[RedisReply] | [undefined | false, string]>>
  ).get(name);
  const [reply, err] = method.call(session.red, ...args);
  if (reply === undefined || reply === false) {
    session.lost = reply === undefined;
    return $multi(reply === undefined ? undefined : (false as const), `${err as string}`);
  }
  return $multi(reply);
}

/**
 * Calls Redis function `name` in a session (and waits for `replicas` replicas to have its writes).
 * On failure the session is already closed and the
 * cause logged as "failed to <verb>".
 */
export function callIn(
  session: Session,
  verb: string,
  name: string,
  keys: string[],
  args: string[],
  idempotent: boolean,
  replicas = 0,
): LuaMultiReturn<[Reply] | [undefined, Failure]> {
  const [reply, err] = fcall(session, name, keys, args, idempotent, replicas);
  if (err !== undefined) {
    close(session);
    ngx.log(ngx.ERR, `failed to ${verb}: ${err}`);
    metrics.redisError(verb);
    return $multi(undefined, UNAVAILABLE);
  }
  return $multi(reply as Reply);
}

/** One Redis function call in its own session: open, call, close. */
export function call(
  settings: Settings,
  verb: string,
  name: string,
  keys: string[],
  args: string[],
  idempotent = false,
  replicas = 0,
): LuaMultiReturn<[Reply] | [undefined, Failure]> {
  const [session, failure] = open(settings);
  if (session === undefined) {
    return $multi(undefined, failure);
  }
  const [reply, callFailure] = callIn(session, verb, name, keys, args, idempotent, replicas);
  if (reply === undefined) {
    return $multi(undefined, callFailure);
  }
  close(session);
  return $multi(reply);
}
