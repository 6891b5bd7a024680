// A local Sentinel set-up for trying and testing Sentinel mode: a primary with replicas watched by
// `redis-server --sentinel` processes, on free loopback ports with its files in one temporary
// directory, with small timeouts so a failover takes seconds.

import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { addressOf, alive, HOST, killNode, replicaInSync, stopNodes, TopologyNode } from "./cluster";
import { freePort, redisAnswers, startRedis } from "./gateway";
import { redisCall, Reply, waitUntil } from "./redis-call";

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
