// A Redis Cluster client core for nginx workers: the routing of one command by its key's hash
// slot (the worker's cluster state, its slot map and node addresses, is state.ts) over the pooled
// resty.redis connections of host/redis.ts, following MOVED (the map is refreshed) and ASK
// (ASKING, then the command on the named node), a bounded number of times. A node that cannot be reached makes the worker ask the cluster again: after a failover
// the map names the promoted replica.
//
// One operation, with no closure (what command() does; a caller may run its own commands so):
//   const attempt = begin(state, key, true);
//   for (;;) {
//     const [red, err] = connectionFor(state, attempt);   // owner of the key's slot, ASKING sent when due
//     if (red === undefined) return fail(err);
//     const [reply, replyErr] = red.get(key);
//     const [outcome, routeErr] = afterReply(state, attempt, red, reply, replyErr as string | undefined); // releases red
//     if (outcome === "done") return reply, replyErr;  // a plain Redis error reply is "done" too
//     if (outcome === undefined) return fail(routeErr);
//   }                                                    // "retry": go round again

import * as redis from "../../host/redis";
import { keySlot } from "../../protocol/slot";
import { isClusterDown, isTryAgain, parseRedirect, Redirect } from "./redirect";
import { ownerOf } from "./slots";
import { addressFor, ClusterState, refreshSoon } from "./state";

export { addressFor, discover, refresh } from "./state";
export type { ClusterState, Seed } from "./state";

/** The routing state of one operation (one table per operation; pass `reuse` to begin() to recycle one). */
export interface Attempt {
  slot: number;
  /** The command may run twice (a read, a SET): then a lost connection is retried on the new owner. */
  idempotent: boolean;
  /** Redirects and retries so far, bounded by MAX_REDIRECTS. */
  redirects: number;
  /** Where the last MOVED or ASK sent the command; tried before the map's owner, once. */
  target: Redirect | undefined;
  /** The node the last connection went to (also the host for redirects that give none). */
  node: string;
  host: string;
}

/** Redirects (MOVED, ASK, TRYAGAIN) and retries after a lost connection, per operation. */
export const MAX_REDIRECTS = 5;

/** How long to wait before another try after TRYAGAIN (seconds). */
const TRY_AGAIN_WAIT_S = 0.05;

/** resty.redis sends any command by its lower-case name; ASKING is not in its declared list. */
interface ClusterCalls {
  asking(this: ClusterCalls): LuaMultiReturn<[RedisReply] | [undefined | false, string]>;
}

/** A resty.redis command method, looked up by name. */
type RedisCommand = (this: RestyRedis, ...args: string[]) => LuaMultiReturn<[RedisReply] | [undefined | false, string]>;

/** Starts routing an operation on `key` (its bytes); `reuse` recycles a finished attempt's table. */
export function begin(state: ClusterState, key: string, idempotent: boolean, reuse?: Attempt): Attempt {
  const slot = keySlot(key);
  if (reuse === undefined) {
    return { slot, idempotent, redirects: 0, target: undefined, node: "", host: "" };
  }
  reuse.slot = slot;
  reuse.idempotent = idempotent;
  reuse.redirects = 0;
  reuse.target = undefined;
  reuse.node = "";
  reuse.host = "";
  return reuse;
}

function connectTo(state: ClusterState, attempt: Attempt, name: string, host: string, port: number): LuaMultiReturn<[RestyRedis] | [undefined, string]> {
  attempt.node = name;
  attempt.host = host;
  return redis.connect(addressFor(state, name, host, port), state.timeoutMs);
}

/**
 * A pooled connection to the node that should run the attempt's next try: the node of the last
 * redirect, else the owner of the slot in the map. After ASK, ASKING is already sent on it. When
 * the owner cannot be reached, the map is refreshed and its new owner (a promoted replica) tried.
 * Hand the connection to afterReply(), which releases it.
 */
export function connectionFor(state: ClusterState, attempt: Attempt): LuaMultiReturn<[RestyRedis] | [undefined, string]> {
  const target = attempt.target;
  if (target === undefined) {
    return connectToOwner(state, attempt);
  }
  const [red, err] = connectTo(state, attempt, target.name, target.host, target.port);
  if (red === undefined) {
    return $multi(undefined, err);
  }
  if (target.kind === "ask") {
    const [asked, askErr] = (red as unknown as ClusterCalls).asking();
    if (asked === undefined || asked === false) {
      redis.release(red, asked === undefined);
      return $multi(undefined, `failed to send asking to ${attempt.node}: ${askErr}`);
    }
  }
  return $multi(red);
}

/** A connection to the slot's owner in the map; when it cannot be reached, to the owner after a refresh. */
function connectToOwner(state: ClusterState, attempt: Attempt): LuaMultiReturn<[RestyRedis] | [undefined, string]> {
  let owner = ownerOf(state.map, attempt.slot);
  if (owner === undefined) {
    refreshSoon(state);
    owner = ownerOf(state.map, attempt.slot);
    if (owner === undefined) {
      return $multi(undefined, `failed to route slot ${attempt.slot}: no cluster node serves it`);
    }
  }
  const [red, err] = connectTo(state, attempt, owner.name, owner.host, owner.port);
  if (red !== undefined) {
    return $multi(red);
  }
  // A dead primary: its replica may have taken over its slots.
  refreshSoon(state);
  const newOwner = ownerOf(state.map, attempt.slot);
  if (newOwner === undefined || newOwner.name === owner.name) {
    return $multi(undefined, err);
  }
  return connectTo(state, attempt, newOwner.name, newOwner.host, newOwner.port);
}

/**
 * Looks at the reply of a command sent on a connection from connectionFor() and releases the
 * connection. "done": the reply is the command's (a Redis error reply other than a redirect too);
 * "retry": call connectionFor() again (after MOVED, ASK, TRYAGAIN, or a lost connection of an
 * idempotent attempt); undefined and a message: give up (too many redirects, or a lost connection).
 */
export function afterReply(
  state: ClusterState,
  attempt: Attempt,
  red: RestyRedis,
  reply: unknown,
  err: string | undefined,
): LuaMultiReturn<["done" | "retry"] | [undefined, string]> {
  attempt.target = undefined;
  if (reply === undefined) {
    redis.release(red, true);
    refreshSoon(state);
    if (attempt.idempotent && attempt.redirects < MAX_REDIRECTS) {
      attempt.redirects += 1;
      return $multi("retry");
    }
    return $multi(undefined, `failed to run a command on redis at ${attempt.node}: ${err}`);
  }
  if (reply !== false || err === undefined) {
    redis.release(red);
    return $multi("done");
  }
  redis.release(red);
  const redirect = parseRedirect(err, attempt.host);
  const tryAgain = redirect === undefined && isTryAgain(err);
  if (redirect === undefined && !tryAgain) {
    if (isClusterDown(err)) {
      refreshSoon(state);
    }
    return $multi("done");
  }
  if (attempt.redirects >= MAX_REDIRECTS) {
    return $multi(undefined, `failed to route slot ${attempt.slot}: ${MAX_REDIRECTS} redirects, the last ${err}`);
  }
  attempt.redirects += 1;
  if (redirect === undefined) {
    ngx.sleep(TRY_AGAIN_WAIT_S);
    return $multi("retry");
  }
  attempt.target = redirect;
  if (redirect.kind === "moved") {
    refreshSoon(state);
  }
  return $multi("retry");
}

/**
 * Runs resty.redis command `name` (lower case) with `args` on the node serving `key`, following
 * redirects. Returns what resty.redis returns: the reply, `false` and a Redis error message, or
 * undefined and a failure.
 */
export function command(
  state: ClusterState,
  key: string,
  idempotent: boolean,
  name: string,
  args: string[],
): LuaMultiReturn<[RedisReply] | [undefined | false, string]> {
  const attempt = begin(state, key, idempotent);
  for (;;) {
    const [red, err] = connectionFor(state, attempt);
    if (red === undefined) {
      return $multi(undefined, err);
    }
    const method = (red as unknown as LuaTable<string, RedisCommand>).get(name);
    const [reply, replyErr] = method.call(red, ...args);
    const [outcome, routeErr] = afterReply(state, attempt, red, reply, replyErr as string | undefined);
    if (outcome === undefined) {
      return $multi(undefined, routeErr);
    }
    if (outcome === "done") {
      if (reply === false) {
        return $multi(false as const, `${replyErr}`);
      }
      return $multi(reply);
    }
  }
}
