// A Redis Cluster client core for nginx workers: a per-worker cluster state (the slot map learnt
// from CLUSTER SLOTS, and the connection address of each node), and the routing of one command by
// its key's hash slot over the pooled resty.redis connections of host/redis.ts, following MOVED
// (the map is refreshed) and ASK (ASKING, then the command on the named node), a bounded number
// of times. A node that cannot be reached makes the worker ask the cluster again: after a failover
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

import type { RedisAddress } from "../../config/schema";
import * as redis from "../../host/redis";
import { keySlot, SLOT_COUNT } from "../../protocol/slot";
import { isClusterDown, isTryAgain, parseRedirect, Redirect } from "./redirect";
import { nodeName, ownerOf, parseClusterSlots, SlotMap, slotsCovered } from "./slots";

/** A node to ask for the slot map at start. */
export interface Seed {
  host: string;
  port: number;
}

/** One worker's view of one cluster. Build it with discover(); keep it for the worker's life. */
export interface ClusterState {
  seeds: Seed[];
  timeoutMs: number;
  password: string | undefined;
  map: SlotMap;
  /** Connection addresses by node name (`host:port`), made once per node. */
  addresses: LuaMap<string, RedisAddress>;
  /** ngx.now() when the map was last asked for, and whether a request is asking now (it yields). */
  discoveredAt: number;
  discovering: boolean;
}

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

/** Workers ask the cluster again at most this often (seconds) when a redirect or a dead node tells them to. */
const REFRESH_INTERVAL_S = 0.1;

/** How long to wait before another try after TRYAGAIN (seconds). */
const TRY_AGAIN_WAIT_S = 0.05;

/** resty.redis sends any command by its lower-case name; these are not in its declared list. */
interface ClusterCalls {
  cluster(this: ClusterCalls, subcommand: string): LuaMultiReturn<[RedisReply] | [undefined | false, string]>;
  asking(this: ClusterCalls): LuaMultiReturn<[RedisReply] | [undefined | false, string]>;
}

/** A resty.redis command method, looked up by name. */
type RedisCommand = (this: RestyRedis, ...args: string[]) => LuaMultiReturn<[RedisReply] | [undefined | false, string]>;

/** The connection address of node `name` (made once per node). */
export function addressFor(state: ClusterState, name: string, host: string, port: number): RedisAddress {
  let address = state.addresses.get(name);
  if (address === undefined) {
    address = { host, port, db: 0, password: state.password, url: `redis://${name}/0` };
    state.addresses.set(name, address);
  }
  return address;
}

/** Asks one node for CLUSTER SLOTS. */
function askSlots(state: ClusterState, host: string, port: number): LuaMultiReturn<[SlotMap] | [undefined, string]> {
  const name = nodeName(host, port);
  const [red, connectErr] = redis.connect(addressFor(state, name, host, port), state.timeoutMs);
  if (red === undefined) {
    return $multi(undefined, connectErr);
  }
  const [reply, err] = (red as unknown as ClusterCalls).cluster("slots");
  if (reply === undefined || reply === false) {
    redis.release(red, reply === undefined);
    return $multi(undefined, `failed to ask ${name} for cluster slots: ${err}`);
  }
  redis.release(red);
  return parseClusterSlots(reply, host);
}

/**
 * Asks the known nodes (primaries first), then the seeds, for the slot map, and keeps the first that
 * covers every slot (else the one that covers most). Fails when no node answers with any slot.
 */
export function refresh(state: ClusterState): LuaMultiReturn<[true] | [undefined, string]> {
  if (state.discovering) {
    return $multi(undefined, "failed to discover the cluster: a discovery is under way");
  }
  state.discovering = true;
  state.discoveredAt = ngx.now();
  const asked = new LuaSet<string>();
  const candidates: Seed[] = [];
  for (const node of state.map.nodes) {
    candidates.push(node);
  }
  for (const seed of state.seeds) {
    candidates.push(seed);
  }
  let best: SlotMap | undefined;
  let bestCovered = 0;
  let lastErr = "no seed given";
  for (const candidate of candidates) {
    const name = nodeName(candidate.host, candidate.port);
    if (!asked.has(name)) {
      asked.add(name);
      const [map, err] = askSlots(state, candidate.host, candidate.port);
      if (map === undefined) {
        lastErr = err;
      } else {
        const covered = slotsCovered(map);
        if (covered > bestCovered) {
          best = map;
          bestCovered = covered;
        }
        if (covered === SLOT_COUNT) {
          break;
        }
        lastErr = `${name} knows owners for ${covered} slots only`;
      }
    }
  }
  state.discovering = false;
  state.discoveredAt = ngx.now();
  if (best === undefined) {
    return $multi(undefined, `failed to discover the cluster: ${lastErr}`);
  }
  state.map = best;
  return $multi(true);
}

/** Refreshes the map unless another request is at it or it was refreshed a moment ago. */
function refreshSoon(state: ClusterState): void {
  if (!state.discovering && ngx.now() - state.discoveredAt >= REFRESH_INTERVAL_S) {
    const [refreshed, err] = refresh(state);
    if (refreshed === undefined) {
      ngx.log(ngx.WARN, err);
    }
  }
}

/** A cluster state for this worker: asks `seeds` in turn for the slot map. */
export function discover(seeds: Seed[], timeoutMs: number, password?: string): LuaMultiReturn<[ClusterState] | [undefined, string]> {
  const state: ClusterState = {
    seeds,
    timeoutMs,
    password,
    map: { ranges: [], nodes: [] },
    addresses: new LuaMap<string, RedisAddress>(),
    discoveredAt: 0,
    discovering: false,
  };
  const [discovered, err] = refresh(state);
  if (discovered === undefined) {
    return $multi(undefined, err);
  }
  return $multi(state);
}

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
