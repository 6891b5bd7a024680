// Local Redis topologies for trying and testing cluster mode: a Redis Cluster of
// `redis-server --cluster-enabled yes` processes joined by `redis-cli --cluster create` (the
// Sentinel set-up is sentinel.ts, the Redis client both use redis-call.ts). Everything listens on
// free loopback ports with its files in one temporary directory; timeouts are small, so a
// failover takes seconds. Used by `npm run redis:cluster` and the tests.

import "./multi";
import { ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, startRedis, stopChild } from "./gateway";

import { callText, infoFields, waitUntil } from "./redis-call";

export { RedisErrorReply, infoFields, redisCall } from "./redis-call";
export type { Reply } from "./redis-call";

/** Every local node listens here. */
export const HOST = "127.0.0.1";
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

export function alive(node: TopologyNode): boolean {
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
export async function stopNodes(nodes: TopologyNode[], dir: string): Promise<void> {
  await Promise.all(nodes.map((node) => stopChild(node.process, "SIGTERM", 1000)));
  rmSync(dir, { recursive: true, force: true });
}

/** A replica is in sync: its link to the primary is up and no full sync is running. */
export async function replicaInSync(node: TopologyNode): Promise<boolean> {
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
export function portFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer();
    server.once("error", () => done(false));
    server.listen(port, HOST, () => server.close(() => done(true)));
  });
}

export function addressOf(node: TopologyNode): string {
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
