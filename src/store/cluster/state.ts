// A worker's view of a Redis Cluster: the slot map learnt from CLUSTER SLOTS (asked of the known
// nodes, then the seeds, keeping the map that covers every slot), and the connection address of
// each node. The routing of one command by its key's slot is client.ts. The map is asked on a
// connection of its own, closed after (rare: at start and when the map changed).

import type { RedisAddress } from "../../config/schema";
import * as redis from "../../host/redis";
import { SLOT_COUNT } from "../../protocol/slot";
import { nodeName, parseClusterSlots, SlotMap, slotsCovered } from "./slots";

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

/** Workers ask the cluster again at most this often (seconds) when a redirect or a dead node tells them to. */
const REFRESH_INTERVAL_S = 0.1;

/** resty.redis sends any command by its lower-case name; CLUSTER is not in its declared list. */
interface ClusterCalls {
  cluster(this: ClusterCalls, subcommand: string): LuaMultiReturn<[RedisReply] | [undefined | false, string]>;
}

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
  // closed, not pooled: the worker's only lasting connection to a node is its shard's (hub/mux.ts)
  redis.release(red, true);
  if (reply === undefined || reply === false) {
    return $multi(undefined, `failed to ask ${name} for cluster slots: ${err}`);
  }
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
export function refreshSoon(state: ClusterState): void {
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
