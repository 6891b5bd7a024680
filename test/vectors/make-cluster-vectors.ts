// Generates test/vectors/cluster.json, the vectors test/lua/cluster_spec.lua runs through the
// generated Lua of src/store/cluster/slots and redirect. The replies and error strings marked
// "captured" are a real 3+3 cluster's (started here with src/cli/cluster), and the expected slot
// owners come from that cluster's CLUSTER NODES, never from the code under test; the others are
// written by hand after the Redis Cluster specification (nil and "?" endpoints, hostnames,
// malformed replies, IPv6 addresses).
//
//   bash scripts/build && node build/test/vectors/make-cluster-vectors.js

import "../../src/cli/multi";
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseClusterNodes, redisCall, RedisErrorReply, Reply, startCluster } from "../../src/cli/cluster";
import { keySlot } from "../../src/protocol/slot";

export const VECTORS_PATH = resolve(__dirname, "../../../test/vectors/cluster.json");

export interface ExpectedRange {
  first: number;
  last: number;
  primary: string;
  replicas: string[];
}

export interface SlotsVector {
  name: string;
  reply: Reply;
  fallbackHost: string;
  /** The parse fails (the message contains this); else ranges, nodes, covered and owners hold. */
  error?: string;
  ranges?: ExpectedRange[];
  /** Every node once, primaries first (in range order), then replicas. */
  nodes?: string[];
  covered?: number;
  /** [slot, owner `host:port` or null]. */
  owners?: Array<[number, string | null]>;
}

export interface RedirectVector {
  name: string;
  err: string;
  fallbackHost: string;
  redirect: { kind: "moved" | "ask"; slot: number; host: string; port: number; name: string } | null;
  tryAgain: boolean;
  clusterDown: boolean;
}

export interface ClusterVectors {
  slots: SlotsVector[];
  redirects: RedirectVector[];
}

/** A key whose slot is `slot` (brute force over key:N). */
function keyInSlot(slot: number): string {
  for (let n = 0; ; n++) {
    if (keySlot(`key:${n}`) === slot) {
      return `key:${n}`;
    }
  }
}

/** A key in the first slot the asked node (`myself` in its CLUSTER NODES) owns. */
function keyOwnedBy(table: Reply): string {
  const self = parseClusterNodes(`${table as string}`).find((entry) => entry.flags.includes("myself"))!;
  return keyInSlot(Number(self.slots[0].split("-")[0]));
}

function redirectVector(name: string, err: string, fallbackHost = "127.0.0.1"): RedirectVector {
  const match = /^(MOVED|ASK) (\d+) (.*):(\d+)$/.exec(err);
  let redirect: RedirectVector["redirect"] = null;
  if (match !== null) {
    const host = match[3].replace(/^\[(.*)\]$/, "$1") || fallbackHost;
    const port = Number(match[4]);
    redirect = { kind: match[1] === "MOVED" ? "moved" : "ask", slot: Number(match[2]), host, port, name: `${host}:${port}` };
  }
  return { name, err, fallbackHost, redirect, tryAgain: err.startsWith("TRYAGAIN"), clusterDown: err.startsWith("CLUSTERDOWN") };
}

async function captured(): Promise<ClusterVectors> {
  const cluster = await startCluster({ primaries: 3, replicasPerPrimary: 1 });
  try {
    const seed = cluster.nodes[0];
    // CLUSTER SLOTS lists a replica only once it has replicated something (Redis 7): write a key
    // to every primary, then wait until every range shows its replica.
    for (const primary of cluster.primaries()) {
      await redisCall(primary.host, primary.port, ["SET", keyOwnedBy(await redisCall(primary.host, primary.port, ["CLUSTER", "NODES"])), "1"]);
    }
    let reply: Reply = null;
    for (let tries = 0; tries < 100; tries++) {
      reply = await redisCall(seed.host, seed.port, ["CLUSTER", "SLOTS"]);
      if (Array.isArray(reply) && reply.every((entry) => Array.isArray(entry) && entry.length === 4)) {
        break;
      }
      await new Promise((done) => setTimeout(done, 200));
    }
    const table = await redisCall(seed.host, seed.port, ["CLUSTER", "NODES"]);
    if (!Array.isArray(reply) || typeof table !== "string") {
      throw new Error(`unexpected answers: ${JSON.stringify([reply, table])}`);
    }
    const entries = parseClusterNodes(table);
    const primaries = entries.filter((entry) => entry.flags.includes("master"));
    const ranges: ExpectedRange[] = [];
    for (const primary of primaries) {
      const replicas = entries.filter((entry) => entry.primaryId === primary.id).map((entry) => entry.address);
      for (const range of primary.slots) {
        const [first, last] = range.split("-").map(Number);
        ranges.push({ first, last: last ?? first, primary: primary.address, replicas });
      }
    }
    ranges.sort((a, b) => a.first - b.first);
    const nodes = [...new Set([...ranges.map((range) => range.primary), ...ranges.flatMap((range) => range.replicas)])];
    const owners: Array<[number, string | null]> = [];
    for (const range of ranges) {
      for (const slot of [range.first, Math.floor((range.first + range.last) / 2), range.last]) {
        owners.push([slot, range.primary]);
      }
    }
    const slots: SlotsVector[] = [{ name: "captured: a 3+3 cluster", reply, fallbackHost: seed.host, ranges, nodes, covered: 16384, owners }];

    // MOVED: a key asked of a primary that does not own its slot; ASK: a missing key of a slot the owner migrates.
    const slot = 3999;
    const key = keyInSlot(slot);
    const owner = ranges.find((range) => slot >= range.first && slot <= range.last)!;
    const other = primaries.find((primary) => primary.address !== owner.primary)!;
    const ownerEntry = primaries.find((primary) => primary.address === owner.primary)!;
    const [otherHost, otherPort] = other.address.split(":");
    const [ownerHost, ownerPort] = owner.primary.split(":");
    const moved = await redisCall(otherHost, Number(otherPort), ["GET", key]);
    // TRYAGAIN: a multi-key command of a migrating slot where some keys are still here and some not
    await redisCall(ownerHost, Number(ownerPort), ["SET", `{${key}}:here`, "1"]);
    await redisCall(otherHost, Number(otherPort), ["CLUSTER", "SETSLOT", slot, "IMPORTING", ownerEntry.id]);
    await redisCall(ownerHost, Number(ownerPort), ["CLUSTER", "SETSLOT", slot, "MIGRATING", other.id]);
    const ask = await redisCall(ownerHost, Number(ownerPort), ["GET", key]);
    const tryAgain = await redisCall(ownerHost, Number(ownerPort), ["MGET", `{${key}}:here`, `{${key}}:gone`]);
    await redisCall(ownerHost, Number(ownerPort), ["CLUSTER", "SETSLOT", slot, "STABLE"]);
    await redisCall(otherHost, Number(otherPort), ["CLUSTER", "SETSLOT", slot, "STABLE"]);
    const redirects: RedirectVector[] = [];
    for (const [name, answer] of [
      ["captured: MOVED", moved],
      ["captured: ASK", ask],
      ["captured: MGET during a migration", tryAgain],
    ] as Array<[string, Reply]>) {
      if (!(answer instanceof RedisErrorReply)) {
        throw new Error(`${name}: expected an error reply, got ${JSON.stringify(answer)}`);
      }
      redirects.push(redirectVector(name, answer.message));
    }
    return { slots, redirects };
  } finally {
    await cluster.stop();
  }
}

const NODE_A = ["10.0.0.1", 7000, "a".repeat(40), []];
const NODE_B = ["10.0.0.2", 7001, "b".repeat(40), []];
const NODE_C = ["10.0.0.3", 7002, "c".repeat(40), []];

function written(): ClusterVectors {
  const slots: SlotsVector[] = [
    {
      name: "ranges out of order, a primary with two ranges, no replicas",
      reply: [
        [8192, 16383, NODE_B],
        [0, 99, NODE_A],
        [100, 8191, NODE_A],
      ],
      fallbackHost: "10.0.0.9",
      ranges: [
        { first: 0, last: 99, primary: "10.0.0.1:7000", replicas: [] },
        { first: 100, last: 8191, primary: "10.0.0.1:7000", replicas: [] },
        { first: 8192, last: 16383, primary: "10.0.0.2:7001", replicas: [] },
      ],
      nodes: ["10.0.0.1:7000", "10.0.0.2:7001"],
      covered: 16384,
      owners: [
        [0, "10.0.0.1:7000"],
        [99, "10.0.0.1:7000"],
        [100, "10.0.0.1:7000"],
        [8191, "10.0.0.1:7000"],
        [8192, "10.0.0.2:7001"],
        [16383, "10.0.0.2:7001"],
      ],
    },
    {
      name: "a gap: slots without an owner, single-slot ranges",
      reply: [
        [0, 0, NODE_A],
        [5, 5, NODE_B, NODE_C],
        [6, 16000, NODE_C],
      ],
      fallbackHost: "10.0.0.9",
      ranges: [
        { first: 0, last: 0, primary: "10.0.0.1:7000", replicas: [] },
        { first: 5, last: 5, primary: "10.0.0.2:7001", replicas: ["10.0.0.3:7002"] },
        { first: 6, last: 16000, primary: "10.0.0.3:7002", replicas: [] },
      ],
      nodes: ["10.0.0.1:7000", "10.0.0.2:7001", "10.0.0.3:7002"],
      covered: 1 + 1 + 15995,
      owners: [
        [0, "10.0.0.1:7000"],
        [1, null],
        [4, null],
        [5, "10.0.0.2:7001"],
        [6, "10.0.0.3:7002"],
        [16000, "10.0.0.3:7002"],
        [16001, null],
        [16383, null],
      ],
    },
    {
      name: "a nil endpoint and an empty host are the node that answered; hostname metadata is ignored",
      reply: [
        [0, 8191, [null, 7000, "a".repeat(40), ["hostname", "a.example"]]],
        [8192, 16383, ["", 7001, "b".repeat(40)], ["10.0.0.3", 7002, "c".repeat(40), ["hostname", "c.example"]]],
      ],
      fallbackHost: "10.0.0.9",
      ranges: [
        { first: 0, last: 8191, primary: "10.0.0.9:7000", replicas: [] },
        { first: 8192, last: 16383, primary: "10.0.0.9:7001", replicas: ["10.0.0.3:7002"] },
      ],
      nodes: ["10.0.0.9:7000", "10.0.0.9:7001", "10.0.0.3:7002"],
      covered: 16384,
      owners: [[8191, "10.0.0.9:7000"]],
    },
    {
      name: "a replica with an unknown endpoint is left out",
      reply: [[0, 16383, NODE_A, ["?", 7001, "b".repeat(40), []]]],
      fallbackHost: "10.0.0.9",
      ranges: [{ first: 0, last: 16383, primary: "10.0.0.1:7000", replicas: [] }],
      nodes: ["10.0.0.1:7000"],
      covered: 16384,
      owners: [[12182, "10.0.0.1:7000"]],
    },
    {
      name: "an empty reply: a node in no cluster yet",
      reply: [],
      fallbackHost: "10.0.0.9",
      ranges: [],
      nodes: [],
      covered: 0,
      owners: [[0, null]],
    },
    { name: "a primary with an unknown endpoint", reply: [[0, 16383, ["?", 7000, "a".repeat(40)]]], fallbackHost: "10.0.0.9", error: "unknown endpoint" },
    { name: "not an array", reply: "ERR This instance has cluster support disabled", fallbackHost: "10.0.0.9", error: "not an array" },
    { name: "an entry without a primary", reply: [[0, 16383]], fallbackHost: "10.0.0.9", error: "an entry is not" },
    { name: "a slot out of range", reply: [[0, 16384, NODE_A]], fallbackHost: "10.0.0.9", error: "bad slot range 0-16384" },
    { name: "a range backwards", reply: [[10, 9, NODE_A]], fallbackHost: "10.0.0.9", error: "bad slot range 10-9" },
    { name: "a port that is not a number", reply: [[0, 16383, ["10.0.0.1", "7000"]]], fallbackHost: "10.0.0.9", error: "no valid port" },
    {
      name: "overlapping ranges",
      reply: [
        [0, 100, NODE_A],
        [100, 16383, NODE_B],
      ],
      fallbackHost: "10.0.0.9",
      error: "ranges overlap at slot 100",
    },
  ];
  const redirects: RedirectVector[] = [
    redirectVector("MOVED to another host", "MOVED 3999 10.0.0.2:7001"),
    redirectVector("ASK to another host", "ASK 0 10.0.0.3:7002"),
    redirectVector("MOVED of the last slot", "MOVED 16383 127.0.0.1:6381"),
    redirectVector("an unknown endpoint is the host that answered", "MOVED 12 :7003", "10.0.0.9"),
    redirectVector("a bare IPv6 address", "MOVED 3999 ::1:6381"),
    redirectVector("a bracketed IPv6 address", "ASK 3999 [fe80::1]:6381"),
    redirectVector("a hostname", "MOVED 1 redis-2.example:6379"),
    redirectVector("TRYAGAIN", "TRYAGAIN Multiple keys request during rehashing of slot"),
    redirectVector("CLUSTERDOWN", "CLUSTERDOWN The cluster is down"),
    redirectVector("an error that is no redirect", "ERR unknown command 'FOO'"),
    redirectVector("WRONGTYPE", "WRONGTYPE Operation against a key holding the wrong kind of value"),
    { ...redirectVector("a slot out of range", "MOVED 16384 10.0.0.2:7001"), redirect: null },
    { ...redirectVector("a port out of range", "MOVED 1 10.0.0.2:70000"), redirect: null },
    redirectVector("no address", "MOVED 3999"),
    redirectVector("lower case is no redirect", "moved 3999 10.0.0.2:7001"),
  ];
  return { slots, redirects };
}

export async function buildClusterVectors(): Promise<ClusterVectors> {
  const real = await captured();
  const made = written();
  return { slots: [...real.slots, ...made.slots], redirects: [...real.redirects, ...made.redirects] };
}

if (require.main === module) {
  buildClusterVectors().then(
    (vectors) => {
      writeFileSync(VECTORS_PATH, `${JSON.stringify(vectors, null, 1)}\n`);
      console.log(`wrote ${VECTORS_PATH}: ${vectors.slots.length} slot maps, ${vectors.redirects.length} error replies`);
    },
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
}
