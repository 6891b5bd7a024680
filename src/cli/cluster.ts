// Local Redis topologies for trying and testing cluster and Sentinel modes: a Redis Cluster of
// `redis-server --cluster-enabled yes` processes joined by `redis-cli --cluster create`, and a
// primary with replicas watched by `redis-server --sentinel` processes. Everything listens on
// free loopback ports with its files in one temporary directory; timeouts are small, so a
// failover takes seconds. Used by `npm run redis:cluster` and the tests.

import "./multi";
import { ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, redisAnswers, startRedis, stopChild } from "./gateway";

const HOST = "127.0.0.1";

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

// ---- a minimal RESP client, for set-up and polling (one connection per call) ----

/** An error reply (`-ERR ...`), as a value. */
export class RedisErrorReply {
  constructor(readonly message: string) {}
}

export type Reply = string | number | null | RedisErrorReply | Reply[];

/** Parses one RESP reply at `pos`: the value and the position after it, or undefined when incomplete. */
function parseReply(buffer: Buffer, pos: number): [Reply, number] | undefined {
  const lineEnd = buffer.indexOf("\r\n", pos);
  if (lineEnd < 0) {
    return undefined;
  }
  const type = String.fromCharCode(buffer[pos]);
  const line = buffer.toString("utf8", pos + 1, lineEnd);
  const next = lineEnd + 2;
  switch (type) {
    case "+":
      return [line, next];
    case "-":
      return [new RedisErrorReply(line), next];
    case ":":
      return [Number(line), next];
    case "$": {
      const length = Number(line);
      if (length < 0) {
        return [null, next];
      }
      if (buffer.length < next + length + 2) {
        return undefined;
      }
      return [buffer.toString("utf8", next, next + length), next + length + 2];
    }
    case "*": {
      const count = Number(line);
      if (count < 0) {
        return [null, next];
      }
      const items: Reply[] = [];
      let at = next;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buffer, at);
        if (item === undefined) {
          return undefined;
        }
        items.push(item[0]);
        at = item[1];
      }
      return [items, at];
    }
    default:
      throw new Error(`unexpected RESP type ${JSON.stringify(type)}`);
  }
}

/** Sends one command to host:port and resolves with its reply (an error reply is a value); rejects on I/O failure. */
export function redisCall(host: string, port: number, args: Array<string | number>, timeoutMs = 2000): Promise<Reply> {
  return new Promise((done, fail) => {
    const socket = connect({ host, port });
    let received = Buffer.alloc(0);
    let settled = false;
    const finish = (error: Error | undefined, reply?: Reply): void => {
      if (!settled) {
        settled = true;
        socket.destroy();
        if (error !== undefined) {
          fail(error);
        } else {
          done(reply ?? null);
        }
      }
    };
    socket.setTimeout(timeoutMs, () => finish(new Error(`no reply from ${host}:${port} to ${args[0]} within ${timeoutMs} ms`)));
    socket.on("error", (e) => finish(e));
    socket.on("close", () => finish(new Error(`${host}:${port} closed the connection`)));
    socket.on("connect", () => {
      const parts = args.map((arg) => `${arg}`);
      socket.write(`*${parts.length}\r\n${parts.map((part) => `$${Buffer.byteLength(part)}\r\n${part}\r\n`).join("")}`);
    });
    socket.on("data", (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      try {
        const parsed = parseReply(received, 0);
        if (parsed !== undefined) {
          finish(undefined, parsed[0]);
        }
      } catch (e) {
        finish(e as Error);
      }
    });
  });
}

/** The reply as text, or undefined when the call failed or the reply is not a string. */
async function callText(host: string, port: number, args: Array<string | number>): Promise<string | undefined> {
  const reply = await redisCall(host, port, args, 1000).catch(() => undefined);
  return typeof reply === "string" ? reply : undefined;
}

/** `field:value` lines of an INFO or CLUSTER INFO reply. */
export function infoFields(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon > 0 && !line.startsWith("#")) {
      fields[line.substring(0, colon)] = line.substring(colon + 1);
    }
  }
  return fields;
}

/** Polls `check` every `stepMs` until it is true; throws naming `what` after `timeoutMs`. */
async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number, stepMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) {
      return;
    }
    if (Date.now() > deadline) {
      throw new Error(`${what}: not within ${timeoutMs} ms`);
    }
    await sleep(stepMs);
  }
}

// ---- nodes ----

export type NodeRole = "primary" | "replica" | "sentinel";

export interface TopologyNode {
  host: string;
  port: number;
  pid: number;
  /** The role the node had when last looked at (start, or a wait for a promotion). */
  role: NodeRole;
  /** Cluster nodes: the node id (CLUSTER MYID). */
  id?: string;
  /** Cluster replicas: the id of the primary they replicate. */
  primaryId?: string;
  process: ChildProcess;
}

function alive(node: TopologyNode): boolean {
  return node.process.exitCode === null && node.process.signalCode === null;
}

/** Kills a node at once (SIGKILL) and waits until the process is gone. */
export async function killNode(node: TopologyNode): Promise<void> {
  if (!alive(node)) {
    return;
  }
  const exited = new Promise<void>((done) => node.process.once("exit", () => done()));
  node.process.kill("SIGKILL");
  await exited;
}

/** Stops every node still running (SIGTERM, SIGKILL after a second) and removes `dir`. */
async function stopNodes(nodes: TopologyNode[], dir: string): Promise<void> {
  await Promise.all(nodes.map((node) => stopChild(node.process, "SIGTERM", 1000)));
  rmSync(dir, { recursive: true, force: true });
}

/** A replica is in sync: its link to the primary is up and no full sync is running. */
async function replicaInSync(node: TopologyNode): Promise<boolean> {
  const text = await callText(node.host, node.port, ["INFO", "replication"]);
  if (text === undefined) {
    return false;
  }
  const info = infoFields(text);
  return info.role === "slave" && info.master_link_status === "up" && info.master_sync_in_progress === "0";
}

// ---- Redis Cluster ----

export interface ClusterOptions {
  primaries?: number;
  replicasPerPrimary?: number;
  /** cluster-node-timeout: how long a node may not answer before it counts as failing. */
  nodeTimeoutMs?: number;
  /** How long to wait for the cluster to form. */
  readyTimeoutMs?: number;
}

export interface ClusterNodeEntry {
  id: string;
  address: string;
  flags: string[];
  primaryId: string | undefined;
  slots: string[];
}

/** The lines of a CLUSTER NODES reply. */
export function parseClusterNodes(text: string): ClusterNodeEntry[] {
  return text
    .split("\n")
    .filter((line) => line.trim().length > 0)
    .map((line) => {
      const fields = line.trim().split(" ");
      return {
        id: fields[0],
        address: fields[1].split("@")[0],
        flags: fields[2].split(","),
        primaryId: fields[3] === "-" ? undefined : fields[3],
        slots: fields.slice(8),
      };
    });
}

export interface Cluster {
  dir: string;
  nodes: TopologyNode[];
  /** Every node as a seed: redis+cluster://host:port,host:port,... */
  url: string;
  primaries(): TopologyNode[];
  replicas(): TopologyNode[];
  /** SIGKILL one node. */
  kill(node: TopologyNode): Promise<void>;
  /**
   * Waits until a replica of `primary` (killed) is a primary, every live node sees it so and the
   * cluster state is ok again; updates the roles and returns the new primary.
   */
  waitForPromotion(primary: TopologyNode, timeoutMs?: number): Promise<TopologyNode>;
  /** Waits until every live node says cluster_state:ok and knows the same slot owners. */
  waitForOk(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** True when nothing listens on HOST:port (we could listen there ourselves). */
function portFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer();
    server.once("error", () => done(false));
    server.listen(port, HOST, () => server.close(() => done(true)));
  });
}

function addressOf(node: TopologyNode): string {
  return `${node.host}:${node.port}`;
}

function runRedisCli(args: string[]): Promise<string> {
  return new Promise((done, fail) => {
    const child = spawn("redis-cli", args, { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    child.on("error", fail);
    child.on("exit", (code) => (code === 0 ? done(output) : fail(new Error(`redis-cli ${args.join(" ")} exited with ${code}:\n${output}`))));
  });
}

/** Starts a Redis Cluster: `primaries` primaries with `replicasPerPrimary` replicas each, slots split evenly. */
export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const primaryCount = options.primaries ?? 3;
  const replicasPerPrimary = options.replicasPerPrimary ?? 1;
  const nodeTimeoutMs = options.nodeTimeoutMs ?? 1000;
  const readyTimeoutMs = options.readyTimeoutMs ?? 20000;
  if (primaryCount < 3) {
    throw new Error("a Redis Cluster needs at least 3 primaries");
  }
  const dir = mkdtempSync(join(tmpdir(), "pushgate-cluster-"));
  const nodes: TopologyNode[] = [];
  try {
    const total = primaryCount * (1 + replicasPerPrimary);
    const ports: number[] = [];
    while (ports.length < total) {
      const port = await freePort();
      // the cluster bus listens on port + 10000: both must be free
      if (port + 10000 < 65536 && !ports.includes(port) && (await portFree(port + 10000))) {
        ports.push(port);
      }
    }
    const started = await Promise.all(
      ports.map((port) => {
        const nodeDir = join(dir, `${port}`);
        return startRedis(HOST, port, nodeDir, [
          "--cluster-enabled",
          "yes",
          "--cluster-config-file",
          join(nodeDir, "nodes.conf"),
          "--cluster-node-timeout",
          `${nodeTimeoutMs}`,
          // a replica may always take over, however long it has been cut off (tests kill primaries)
          "--cluster-replica-validity-factor",
          "0",
        ]);
      }),
    );
    for (const server of started) {
      nodes.push({ host: server.host, port: server.port, pid: server.process.pid ?? 0, role: "primary", process: server.process });
    }
    await runRedisCli(["--cluster", "create", ...nodes.map(addressOf), "--cluster-replicas", `${replicasPerPrimary}`, "--cluster-yes"]);
    const cluster = clusterOf(dir, nodes);
    await cluster.waitForOk(readyTimeoutMs);
    await refreshClusterRoles(nodes);
    await waitUntil("replicas in sync", async () => (await Promise.all(cluster.replicas().map(replicaInSync))).every((ok) => ok), readyTimeoutMs);
    if (cluster.primaries().length !== primaryCount || cluster.replicas().length !== primaryCount * replicasPerPrimary) {
      throw new Error(`the cluster formed with ${cluster.primaries().length} primaries and ${cluster.replicas().length} replicas`);
    }
    return cluster;
  } catch (e) {
    await stopNodes(nodes, dir);
    throw e;
  }
}

/** Sets each live node's id and role from its own CLUSTER NODES line. */
async function refreshClusterRoles(nodes: TopologyNode[]): Promise<void> {
  for (const node of nodes.filter(alive)) {
    const text = await callText(node.host, node.port, ["CLUSTER", "NODES"]);
    const self = text === undefined ? undefined : parseClusterNodes(text).find((entry) => entry.flags.includes("myself"));
    if (self !== undefined) {
      node.id = self.id;
      node.role = self.flags.includes("master") ? "primary" : "replica";
      node.primaryId = self.primaryId;
    }
  }
}

function clusterOf(dir: string, nodes: TopologyNode[]): Cluster {
  const live = (): TopologyNode[] => nodes.filter(alive);
  const everyNodeOk = async (): Promise<boolean> => {
    const views = await Promise.all(
      live().map(async (node) => {
        const info = await callText(node.host, node.port, ["CLUSTER", "INFO"]);
        const table = await callText(node.host, node.port, ["CLUSTER", "NODES"]);
        if (info === undefined || table === undefined || infoFields(info).cluster_state !== "ok") {
          return undefined;
        }
        // who owns which slots, as this node sees it
        return parseClusterNodes(table)
          .filter((entry) => entry.flags.includes("master") && !entry.flags.includes("fail") && entry.slots.length > 0)
          .map((entry) => `${entry.address} ${entry.slots.join(" ")}`)
          .sort()
          .join("\n");
      }),
    );
    return views.every((view) => view !== undefined && view === views[0]);
  };
  const cluster: Cluster = {
    dir,
    nodes,
    url: `redis+cluster://${nodes.map(addressOf).join(",")}`,
    primaries: () => nodes.filter((node) => node.role === "primary"),
    replicas: () => nodes.filter((node) => node.role === "replica"),
    kill: killNode,
    waitForOk: (timeoutMs = 20000) => waitUntil("cluster_state:ok on every node", everyNodeOk, timeoutMs),
    waitForPromotion: async (primary, timeoutMs = 15000) => {
      const candidates = nodes.filter((node) => node.role === "replica" && node.primaryId !== undefined && node.primaryId === primary.id);
      if (candidates.length === 0) {
        throw new Error(`${addressOf(primary)} has no replica to promote`);
      }
      let promoted: TopologyNode | undefined;
      await waitUntil(
        `a replica of ${addressOf(primary)} promoted`,
        async () => {
          await refreshClusterRoles(nodes);
          promoted = candidates.find((node) => alive(node) && node.role === "primary");
          return promoted !== undefined && (await everyNodeOk());
        },
        timeoutMs,
      );
      primary.role = "replica"; // when it comes back, it rejoins as a replica of the new primary
      return promoted!;
    },
    stop: () => stopNodes(nodes, dir),
  };
  return cluster;
}

// ---- Sentinel ----

export interface SentinelOptions {
  replicas?: number;
  sentinels?: number;
  masterName?: string;
  /** down-after-milliseconds: how long the primary may not answer before a sentinel counts it as down. */
  downAfterMs?: number;
  failoverTimeoutMs?: number;
  readyTimeoutMs?: number;
}

export interface SentinelSetup {
  dir: string;
  masterName: string;
  /** The data nodes (the primary first) and the sentinels. */
  nodes: TopologyNode[];
  sentinels: TopologyNode[];
  /** redis+sentinel://host:port,host:port,.../<master name> */
  url: string;
  primary(): TopologyNode;
  replicas(): TopologyNode[];
  kill(node: TopologyNode): Promise<void>;
  /** What one sentinel answers to SENTINEL get-master-addr-by-name, as host:port. */
  masterAddress(sentinel?: TopologyNode): Promise<string | undefined>;
  /**
   * Waits until every live sentinel names a primary other than `old` and that node says it is a
   * primary (ROLE); updates the roles and returns the new primary.
   */
  waitForNewPrimary(old: TopologyNode, timeoutMs?: number): Promise<TopologyNode>;
  stop(): Promise<void>;
}

/** Starts a primary, `replicas` replicas of it, and `sentinels` sentinels (quorum: a majority) watching it. */
export async function startSentinel(options: SentinelOptions = {}): Promise<SentinelSetup> {
  const replicaCount = options.replicas ?? 1;
  const sentinelCount = options.sentinels ?? 3;
  const masterName = options.masterName ?? "pushgate";
  const downAfterMs = options.downAfterMs ?? 1000;
  const failoverTimeoutMs = options.failoverTimeoutMs ?? 3000;
  const readyTimeoutMs = options.readyTimeoutMs ?? 20000;
  const quorum = Math.floor(sentinelCount / 2) + 1;
  const dir = mkdtempSync(join(tmpdir(), "pushgate-sentinel-"));
  const nodes: TopologyNode[] = [];
  const sentinels: TopologyNode[] = [];
  const all = (): TopologyNode[] => [...nodes, ...sentinels];
  try {
    const primaryPort = await freePort();
    const primary = await startRedis(HOST, primaryPort, join(dir, `${primaryPort}`));
    nodes.push({ host: HOST, port: primaryPort, pid: primary.process.pid ?? 0, role: "primary", process: primary.process });
    for (let i = 0; i < replicaCount; i++) {
      const port = await freePort();
      const replica = await startRedis(HOST, port, join(dir, `${port}`), ["--replicaof", HOST, `${primaryPort}`]);
      nodes.push({ host: HOST, port, pid: replica.process.pid ?? 0, role: "replica", process: replica.process });
    }
    await waitUntil("replicas in sync", async () => (await Promise.all(nodes.slice(1).map(replicaInSync))).every((ok) => ok), readyTimeoutMs);
    for (let i = 0; i < sentinelCount; i++) {
      const port = await freePort();
      const sentinelDir = join(dir, `sentinel-${port}`);
      mkdirSync(sentinelDir, { recursive: true });
      const conf = join(sentinelDir, "sentinel.conf");
      // a sentinel rewrites its config file as it learns the topology: each has its own
      writeFileSync(
        conf,
        [
          `port ${port}`,
          `bind ${HOST}`,
          "protected-mode no",
          `dir ${sentinelDir}`,
          'logfile ""',
          `sentinel monitor ${masterName} ${HOST} ${primaryPort} ${quorum}`,
          `sentinel down-after-milliseconds ${masterName} ${downAfterMs}`,
          `sentinel failover-timeout ${masterName} ${failoverTimeoutMs}`,
          `sentinel parallel-syncs ${masterName} 1`,
          "",
        ].join("\n"),
      );
      const child = spawn("redis-server", [conf, "--sentinel"], { stdio: ["ignore", "ignore", "inherit"] });
      sentinels.push({ host: HOST, port, pid: child.pid ?? 0, role: "sentinel", process: child });
      await waitUntil(`sentinel on ${HOST}:${port}`, () => redisAnswers(HOST, port), readyTimeoutMs, 50);
    }
    // Ready when every sentinel knows the primary's replicas and all the other sentinels: only
    // then can they agree that the primary is down and elect one of them to fail it over.
    await waitUntil(
      "sentinels know each other and the replicas",
      async () => {
        const views = await Promise.all(sentinels.map((sentinel) => redisCall(sentinel.host, sentinel.port, ["SENTINEL", "MASTER", masterName], 1000)));
        return views.every((view) => {
          if (!Array.isArray(view)) {
            return false;
          }
          const fields = new Map<string, Reply>();
          for (let i = 0; i + 1 < view.length; i += 2) {
            fields.set(`${view[i] as string}`, view[i + 1]);
          }
          return Number(fields.get("num-slaves")) === replicaCount && Number(fields.get("num-other-sentinels")) === sentinelCount - 1;
        });
      },
      readyTimeoutMs,
      200,
    );
    const masterAddress = async (sentinel: TopologyNode = sentinels.find(alive)!): Promise<string | undefined> => {
      const reply = await redisCall(sentinel.host, sentinel.port, ["SENTINEL", "GET-MASTER-ADDR-BY-NAME", masterName], 1000).catch(() => undefined);
      return Array.isArray(reply) && reply.length === 2 ? `${reply[0] as string}:${reply[1] as string}` : undefined;
    };
    return {
      dir,
      masterName,
      nodes,
      sentinels,
      url: `redis+sentinel://${sentinels.map(addressOf).join(",")}/${masterName}`,
      primary: () => nodes.find((node) => node.role === "primary")!,
      replicas: () => nodes.filter((node) => node.role === "replica"),
      kill: killNode,
      masterAddress,
      waitForNewPrimary: async (old, timeoutMs = 20000) => {
        let promoted: TopologyNode | undefined;
        await waitUntil(
          `sentinels to promote a replica of ${addressOf(old)}`,
          async () => {
            const named = await Promise.all(sentinels.filter(alive).map((sentinel) => masterAddress(sentinel)));
            const address = named[0];
            promoted = nodes.find((node) => addressOf(node) === address && node !== old && alive(node));
            if (promoted === undefined || !named.every((each) => each === address)) {
              return false;
            }
            const role = await redisCall(promoted.host, promoted.port, ["ROLE"], 1000);
            return Array.isArray(role) && role[0] === "master";
          },
          timeoutMs,
          200,
        );
        old.role = "replica";
        promoted!.role = "primary";
        return promoted!;
      },
      stop: () => stopNodes(all(), dir),
    };
  } catch (e) {
    await stopNodes(all(), dir);
    throw e;
  }
}
