// The gateway on a real Redis Cluster (3 primaries, 3 replicas, started by the test):
// PUSHGATE_REDIS_URL=redis+cluster://... . Channels picked on different shards: every transport
// receives durable messages on them (published with SPUBLISH from pushgate_publish), a compound
// cursor over them resumes each, ack/unread work (read positions live in the channel's slot),
// idempotent publishing, a backend's FCALL and plain SPUBLISH (what redis-cli -c sends), and the
// Redis connections stay bounded with a few hundred subscribers.

import "../../src/cli/multi";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Cluster, parseClusterNodes, redisCall, startCluster } from "../../src/cli/cluster";
import { freePort, Gateway, startGateway } from "../../src/cli/gateway";
import { parseSettings } from "../../src/config/schema";
import { keySlot } from "../../src/protocol/slot";
import { SseClient, WsClient } from "./clients";
import { eventually, fetchText, luaErrors, sleep, Stream } from "./harness";

jest.setTimeout(60000);

interface Line {
  type: string;
  channel?: string;
  id?: string;
  cursor?: string;
  data?: string;
  notice?: string;
}

const WORKERS = 2;

/** `host:port` of the primary serving each slot. */
async function slotOwners(cluster: Cluster): Promise<(slot: number) => string> {
  const node = cluster.primaries()[0];
  const nodes = parseClusterNodes(`${(await redisCall(node.host, node.port, ["CLUSTER", "NODES"])) as string}`);
  const ranges: Array<[number, number, string]> = [];
  for (const entry of nodes.filter((n) => n.flags.includes("master"))) {
    for (const range of entry.slots.filter((s) => !s.startsWith("["))) {
      const [first, last] = range.split("-").map(Number);
      ranges.push([first, last ?? first, entry.address]);
    }
  }
  return (slot) => ranges.find(([first, last]) => slot >= first && slot <= last)![2];
}

/** One channel named `<prefix><n>` per primary: each on another shard. */
function oneChannelPerShard(owner: (slot: number) => string, prefix: string, shards: number): string[] {
  const byOwner = new Map<string, string>();
  for (let n = 0; byOwner.size < shards; n++) {
    const channel = `${prefix}${n}`;
    const node = owner(keySlot(channel));
    if (!byOwner.has(node)) {
      byOwner.set(node, channel);
    }
  }
  return [...byOwner.values()];
}

function messages(stream: Stream): Line[] {
  return (stream.messages() as Line[]).filter((m) => m.type === "message");
}

describe("the gateway on a Redis Cluster (redis+cluster://, sharded pub/sub)", () => {
  let cluster: Cluster;
  let gateway: Gateway;
  let base: string;
  let dir: string;
  let owner: (slot: number) => string;

  async function publish(channel: string, data: string, headers: Record<string, string> = {}): Promise<{ id: string; duplicate?: boolean }> {
    const answer = await fetchText(`${base}/pub?channel=${channel}`, { method: "POST", body: data, headers });
    expect(answer.status).toBe(200);
    return JSON.parse(answer.body) as { id: string; duplicate?: boolean };
  }

  /** redis-cli -c against the cluster (it follows MOVED), as a backend would. */
  function redisCli(args: string[]): string {
    const seed = cluster.primaries()[0];
    const run = spawnSync("redis-cli", ["-c", "-h", seed.host, "-p", `${seed.port}`, ...args], { encoding: "utf8" });
    expect(run.status).toBe(0);
    return run.stdout;
  }

  beforeAll(async () => {
    cluster = await startCluster({ primaries: 3, replicasPerPrimary: 1, nodeTimeoutMs: 1000 });
    owner = await slotOwners(cluster);
    dir = mkdtempSync(join(tmpdir(), "pushgate-cluster-"));
    const port = await freePort();
    const [settings, err] = parseSettings({
      listen: `127.0.0.1:${port}`,
      redisUrl: cluster.url,
      runtimeDir: join(dir, "nginx"),
      workers: `${WORKERS}`,
      workerConnections: "8192",
      logLevel: "warn",
    });
    if (settings === undefined) {
      throw new Error(err);
    }
    gateway = await startGateway(settings, "ignore");
    base = `http://127.0.0.1:${port}`;
  });

  afterAll(async () => {
    const errors = gateway !== undefined ? luaErrors(readFileSync(gateway.errorLog, "utf8")) : [];
    await gateway?.stop();
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
    expect(errors).toEqual([]);
  });

  test("every transport receives durable messages on channels on different shards", async () => {
    const channels = oneChannelPerShard(owner, "t", 3);
    expect(new Set(channels.map((c) => owner(keySlot(c)))).size).toBe(3);
    const key = channels.join(",");
    const stream = await new Stream(`${base}/sub?key=${key}`).open();
    const sse = await new SseClient(`${base}/sse?key=${key}`).opened();
    const ws = await new WsClient(`${base.replace(/^http/, "ws")}/ws?key=${key}`).open();
    await sleep(500); // every shard confirmed its SSUBSCRIBE
    const ids: string[] = [];
    for (const channel of channels) {
      ids.push((await publish(channel, `to ${channel}`)).id);
    }
    await stream.waitForMessages(3);
    expect(messages(stream).map((m) => [m.channel, m.id, m.data])).toEqual(channels.map((c, i) => [c, ids[i], `to ${c}`]));
    expect(await sse.waitFor(() => sse.messages().length >= 3)).toBe(true);
    expect(sse.messages().map((e) => e.data)).toEqual(channels.map((c) => `to ${c}`));
    expect(await eventually(() => ws.of("message").length >= 3)).toBe(true);
    expect(ws.of("message").map((f) => f.data)).toEqual(channels.map((c) => `to ${c}`));
    // long-poll: from history (a cursor at the start of each channel), across the shards
    const lp = await fetchText(`${base}/lp?key=${key}&since=${encodeURIComponent(channels.map((c) => `${c}=0-0`).join(","))}&timeout=5`);
    const batch = JSON.parse(lp.body) as { messages: Array<{ channel: string; id: string }> };
    expect(batch.messages.map((m) => m.id)).toEqual(ids);
    stream.close();
    sse.close();
    ws.close();
  });

  test("a compound cursor over channels on different shards resumes each channel", async () => {
    const channels = oneChannelPerShard(owner, "r", 3);
    const key = channels.join(",");
    const first = await new Stream(`${base}/sub?key=${key}`).open();
    await sleep(300);
    for (const channel of channels) {
      await publish(channel, "seen");
    }
    await first.waitForMessages(3);
    const cursor = messages(first)[2].cursor!;
    first.close();
    const missed: string[] = [];
    for (let i = 0; i < 5; i++) {
      for (const channel of channels) {
        missed.push((await publish(channel, `missed ${i}`)).id);
      }
    }
    const again = await new Stream(`${base}/sub?key=${key}&since=${encodeURIComponent(cursor)}`).open();
    await again.waitForMessages(15);
    await sleep(200);
    expect(
      messages(again)
        .map((m) => m.id)
        .sort(),
    ).toEqual([...missed].sort());
    for (const channel of channels) {
      const ofChannel = messages(again).filter((m) => m.channel === channel);
      expect(ofChannel.map((m) => m.data)).toEqual([0, 1, 2, 3, 4].map((i) => `missed ${i}`));
    }
    again.close();
  });

  test("ack and unread over channels on different shards; idempotent publishing", async () => {
    const [a, b] = oneChannelPerShard(owner, "inbox", 2);
    const user = "user-7";
    const idsA = [(await publish(a, "a1")).id, (await publish(a, "a2")).id];
    await publish(b, "b1");
    const first = await publish(b, "b2", { "Idempotency-Key": "once" });
    const again = await publish(b, "b2", { "Idempotency-Key": "once" });
    expect(again).toMatchObject({ id: first.id, duplicate: true });
    const unread = async (): Promise<Record<string, number>> =>
      (JSON.parse((await fetchText(`${base}/unread?key=${a},${b}&user=${user}`)).body) as { unread: Record<string, number> }).unread;
    expect(await unread()).toEqual({ [a]: 2, [b]: 2 });
    const ack = await fetchText(`${base}/ack?channel=${a}&id=${idsA[0]}&user=${user}`, { method: "POST" });
    expect(JSON.parse(ack.body)).toEqual({ channel: a, read: idsA[0] });
    await fetchText(`${base}/ack?channel=${b}&id=${first.id}&user=${user}`, { method: "POST" });
    expect(await unread()).toEqual({ [a]: 1, [b]: 0 });
    // a stream without a cursor resumes from the read positions
    const stream = await new Stream(`${base}/sub?key=${a},${b}&user=${user}`).open();
    await stream.waitForMessages(1);
    await sleep(200);
    expect(messages(stream).map((m) => m.id)).toEqual([idsA[1]]);
    stream.close();
    // the read position is a field of the channel's read hash, on the channel's shard
    expect(redisCli(["HGET", `pushgate:{${a}}:read`, user]).trim()).toBe(idsA[0]);
  });

  test("a backend's FCALL pushgate_publish and plain SPUBLISH reach subscribers on every shard", async () => {
    const channels = oneChannelPerShard(owner, "backend", 3);
    const stream = await new Stream(`${base}/sub?key=${channels.join(",")}`).open();
    await sleep(500);
    const ids: string[] = [];
    for (const channel of channels) {
      const reply = redisCli([
        "FCALL",
        "pushgate_publish",
        "2",
        `pushgate:{${channel}}:stream`,
        `pushgate:{${channel}}:meta`,
        channel,
        "by fcall",
        "",
        "1000",
        "86400000",
        "0",
        "SPUBLISH",
      ]);
      ids.push(reply.split("\n")[0].trim());
    }
    for (const channel of channels) {
      redisCli(["SPUBLISH", channel, "plain spublish"]);
    }
    await stream.waitForMessages(6);
    await sleep(200);
    expect(messages(stream).map((m) => [m.channel, m.id, m.data])).toEqual([
      ...channels.map((c, i) => [c, ids[i], "by fcall"]),
      ...channels.map((c) => [c, undefined, "plain spublish"]),
    ]);
    stream.close();
  });

  test("with 300 subscribers: one subscribe connection per worker and shard, two connections per worker on each shard at most", async () => {
    const streams: Stream[] = [];
    for (let i = 0; i < 300; i++) {
      streams.push(await new Stream(`${base}/sub?key=many${i}`).open());
    }
    await sleep(1000);
    const shards = cluster.primaries().length;
    let hub = 0;
    let total = 0;
    for (const node of cluster.primaries()) {
      const list = `${(await redisCall(node.host, node.port, ["CLIENT", "LIST"])) as string}`.split("\n").filter((l) => l.startsWith("id="));
      // not this CLIENT LIST's own connection, nor a replica's replication link
      const gatewayClients = list.filter((l) => !/ cmd=client\|list /.test(l) && !/ flags=S /.test(l));
      hub += gatewayClients.filter((l) => / ssub=[1-9]/.test(l)).length;
      total += gatewayClients.length;
      // on each shard: one subscribe connection per worker, and at most one pooled command connection
      expect(gatewayClients.length).toBeLessThanOrEqual(WORKERS * 2);
    }
    expect(hub).toBeLessThanOrEqual(WORKERS * shards);
    expect(hub).toBeGreaterThanOrEqual(shards);
    expect(total).toBeLessThanOrEqual(WORKERS * shards * 2);
    const sample = [0, 150, 299];
    for (const i of sample) {
      await publish(`many${i}`, `to many${i}`);
    }
    for (const i of sample) {
      await streams[i].waitForMessages(1);
      expect(messages(streams[i]).map((m) => m.data)).toEqual([`to many${i}`]);
    }
    for (const stream of streams) {
      stream.close();
    }
  });
});
