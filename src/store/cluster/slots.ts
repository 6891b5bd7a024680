// Which node serves which hash slot: a CLUSTER SLOTS reply, as resty.redis returns it (nested
// arrays of strings and integers), made into a slot map — sorted ranges of slots, each with its
// primary and replicas — and the lookup of a slot's primary. Pure: no host calls, so busted runs
// it under plain LuaJIT against replies captured from a real cluster (test/vectors/cluster.json).
//
// One entry of the reply: [first slot, last slot, [host, port, id, metadata?], [replica]...].
// A host that is not a string (a nil endpoint: "the address you asked") or empty stands for the
// node the reply came from; "?" (an unknown endpoint) makes the node unusable.

import { SLOT_COUNT } from "../../protocol/slot";

/** One cluster node, as the map and the redirects name it. */
export interface ClusterNode {
  /** `host:port`: the key of the node in every table. */
  name: string;
  host: string;
  port: number;
  /** The node id ("" when the reply gave none). */
  id: string;
}

/** A run of slots served by one primary. */
export interface SlotRange {
  first: number;
  last: number;
  primary: ClusterNode;
  replicas: ClusterNode[];
}

/** Slot ranges sorted by their first slot, and every node they name, primaries first. */
export interface SlotMap {
  ranges: SlotRange[];
  nodes: ClusterNode[];
}

/** `host:port` of an address, the key of a node. */
export function nodeName(host: string, port: number): string {
  return `${host}:${port}`;
}

function isSlot(value: unknown): value is number {
  return typeof value === "number" && value >= 0 && value < SLOT_COUNT && math.floor(value) === value;
}

/** The node of a reply's [host, port, id, ...], the same object for every mention of one address. */
function readNode(value: unknown, fallbackHost: string, known: LuaMap<string, ClusterNode>): LuaMultiReturn<[ClusterNode] | [undefined, string]> {
  if (!Array.isArray(value) || value.length < 2) {
    return $multi(undefined, "a node is not an array of host and port");
  }
  const fields = value as unknown[];
  const given = fields[0];
  const host = typeof given === "string" && given !== "" ? given : fallbackHost;
  if (host === "?") {
    return $multi(undefined, "a node has an unknown endpoint");
  }
  const port = fields[1];
  if (typeof port !== "number" || port <= 0 || port > 65535) {
    return $multi(undefined, `node ${host} has no valid port`);
  }
  const name = nodeName(host, port);
  const seen = known.get(name);
  if (seen !== undefined) {
    return $multi(seen);
  }
  const id = fields[2];
  const node: ClusterNode = { name, host, port, id: typeof id === "string" ? id : "" };
  known.set(name, node);
  return $multi(node);
}

function byFirstSlot(this: void, a: SlotRange, b: SlotRange): boolean {
  return a.first < b.first;
}

/**
 * The slot map of a CLUSTER SLOTS reply. `fallbackHost`: the host of the node that answered, for
 * nodes given without one. Fails on a malformed reply or overlapping ranges; an empty reply
 * (a node that is in no cluster yet) gives an empty map: see slotsCovered().
 */
export function parseClusterSlots(reply: unknown, fallbackHost: string): LuaMultiReturn<[SlotMap] | [undefined, string]> {
  if (!Array.isArray(reply)) {
    return $multi(undefined, "failed to parse cluster slots: the reply is not an array");
  }
  const known = new LuaMap<string, ClusterNode>();
  const ranges: SlotRange[] = [];
  for (const entry of reply as unknown[]) {
    if (!Array.isArray(entry) || entry.length < 3) {
      return $multi(undefined, "failed to parse cluster slots: an entry is not [first, last, primary, ...]");
    }
    const fields = entry as unknown[];
    const first = fields[0];
    const last = fields[1];
    if (!isSlot(first) || !isSlot(last) || last < first) {
      return $multi(undefined, `failed to parse cluster slots: bad slot range ${tostring(first)}-${tostring(last)}`);
    }
    const [primary, primaryErr] = readNode(fields[2], fallbackHost, known);
    if (primary === undefined) {
      return $multi(undefined, `failed to parse cluster slots: ${primaryErr}`);
    }
    const replicas: ClusterNode[] = [];
    for (let i = 3; i < fields.length; i++) {
      // a replica we cannot reach ("?") only costs us that replica
      const [replica] = readNode(fields[i], fallbackHost, known);
      if (replica !== undefined) {
        replicas.push(replica);
      }
    }
    ranges.push({ first, last, primary, replicas });
  }
  table.sort(ranges, byFirstSlot);
  for (let i = 1; i < ranges.length; i++) {
    if (ranges[i].first <= ranges[i - 1].last) {
      return $multi(undefined, `failed to parse cluster slots: ranges overlap at slot ${ranges[i].first}`);
    }
  }
  // Each node once, primaries first (a node listed both ways mid-failover counts as a primary).
  const listed = new LuaSet<ClusterNode>();
  const nodes: ClusterNode[] = [];
  for (const range of ranges) {
    if (!listed.has(range.primary)) {
      listed.add(range.primary);
      nodes.push(range.primary);
    }
  }
  for (const range of ranges) {
    for (const replica of range.replicas) {
      if (!listed.has(replica)) {
        listed.add(replica);
        nodes.push(replica);
      }
    }
  }
  return $multi({ ranges, nodes });
}

/** The range that holds `slot`, or undefined when no node serves it (binary search: no allocation). */
export function rangeOf(map: SlotMap, slot: number): SlotRange | undefined {
  const ranges = map.ranges;
  let low = 0;
  let high = ranges.length - 1;
  while (low <= high) {
    const middle = math.floor((low + high) / 2);
    const range = ranges[middle];
    if (slot < range.first) {
      high = middle - 1;
    } else if (slot > range.last) {
      low = middle + 1;
    } else {
      return range;
    }
  }
  return undefined;
}

/** The primary that serves `slot`, or undefined when none does. */
export function ownerOf(map: SlotMap, slot: number): ClusterNode | undefined {
  const range = rangeOf(map, slot);
  return range === undefined ? undefined : range.primary;
}

/** How many of the 16384 slots have an owner (all of them in a healthy cluster). */
export function slotsCovered(map: SlotMap): number {
  let covered = 0;
  for (const range of map.ranges) {
    covered += range.last - range.first + 1;
  }
  return covered;
}
