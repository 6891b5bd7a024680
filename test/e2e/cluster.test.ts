// The gateway on a real Redis Cluster (3 primaries, 3 replicas, started by the test):
// PUSHGATE_REDIS_URL=redis+cluster://... . Channels picked on different shards: every transport
// receives durable messages on them (published with SPUBLISH from pushgate_publish), a compound
// cursor over them resumes each, ack/unread work (read positions live in the channel's slot),
// idempotent publishing, a backend's FCALL and plain SPUBLISH (what redis-cli -c sends), and the
// Redis connections stay within workers x (shards + 1) with 2,000 subscribers while publishing
// (one connection per worker and primary carries subscriptions and commands); a slot migration and a failover of a
// subscribed channel; PUSHGATE_PUBLISH_REPLICAS; two gateways on one cluster.

import "../../src/cli/multi";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Cluster, parseClusterNodes, redisCall, startCluster } from "../../src/cli/cluster";
import { freePort, Gateway, startGateway } from "../../src/cli/gateway";
import { parseSettings } from "../../src/config/schema";
import { keySlot } from "../../src/protocol/slot";
import { createCluster } from "redis";
import { channelCommander, publishDurable } from "../../sdk";
import { PushgateApi } from "../../sdk/api";
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
    // ready once every worker's hub has reported (each second)
    expect(await eventually(async () => (await fetchText(`${base}/healthz`)).status === 200, 5000)).toBe(true);
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
      // a plain PUBLISH is not heard in a cluster: the gateway listens with SSUBSCRIBE
      redisCli(["PUBLISH", channel, "plain publish"]);
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

  test("the SDK's publishDurable through a node-redis cluster client, with and without an idempotency key, reaches subscribers on every shard", async () => {
    const channels = oneChannelPerShard(owner, "sdk", 3);
    const stream = await new Stream(`${base}/sub?key=${channels.join(",")}`).open();
    await sleep(500);
    const client = createCluster({ rootNodes: cluster.primaries().map((n) => ({ url: `redis://${n.host}:${n.port}` })) });
    await client.connect();
    try {
      const ids: string[] = [];
      for (const channel of channels) {
        // no idempotency key: only the channel's two keys are passed (a '' key would answer CROSSSLOT)
        const plain = await publishDurable(channelCommander(client, channel), channel, `sdk ${channel}`, { sharded: true });
        const keyed = await publishDurable(channelCommander(client, channel), channel, "keyed", { sharded: true, idempotencyKey: `k-${channel}` });
        const again = await publishDurable(channelCommander(client, channel), channel, "keyed", { sharded: true, idempotencyKey: `k-${channel}` });
        expect(again).toEqual({ id: keyed.id, subscribers: 0, duplicate: true });
        expect(plain.duplicate).toBe(false);
        ids.push(plain.id, keyed.id);
      }
      await stream.waitForMessages(6);
      await sleep(200);
      expect(messages(stream).map((m) => [m.channel, m.id, m.data])).toEqual(
        channels.flatMap((c, i) => [
          [c, ids[2 * i], `sdk ${c}`],
          [c, ids[2 * i + 1], "keyed"],
        ]),
      );
    } finally {
      await client.quit();
      stream.close();
    }
  });

  test("the server API on a cluster: publish, broadcast, publish_many and history reach channels on every shard", async () => {
    const channels = oneChannelPerShard(owner, "api", 3);
    const stream = await new Stream(`${base}/sub?key=${channels.join(",")}`).open();
    await sleep(500);
    const api = new PushgateApi(base);
    const one = await api.publish({ channel: channels[0], data: "one", idempotencyKey: "api-once" });
    expect(await api.publish({ channel: channels[0], data: "one", idempotencyKey: "api-once" })).toMatchObject({ id: one.id, duplicate: true });
    const all = await api.broadcast({ channels, data: "to all", event: "news" });
    expect(all.map((r) => [r.channel, r.error])).toEqual(channels.map((c) => [c, undefined]));
    const many = await api.publishMany({ items: channels.map((c) => ({ channel: c, data: `own ${c}` })) });
    expect(many.map((r) => [r.channel, r.error])).toEqual(channels.map((c) => [c, undefined]));
    await stream.waitForMessages(7);
    await sleep(200);
    for (const [i, channel] of channels.entries()) {
      const delivered = messages(stream).filter((m) => m.channel === channel);
      const expected = [...(i === 0 ? [["one", one.id]] : []), ["to all", all[i].id], [`own ${channel}`, many[i].id]];
      expect(delivered.map((m) => [m.data, m.id])).toEqual(expected);
      const kept = await api.history({ channel });
      expect(kept.messages.map((m) => [m.data, m.id])).toEqual(expected);
    }
    expect((await api.history({ channel: channels[1], reverse: true, limit: 1 })).messages.map((m) => m.data)).toEqual([`own ${channels[1]}`]);
    stream.close();
  });

  /** The gateway's connections on each primary (CLIENT LIST, less this call's own and the replicas' links). */
  async function gatewayClients(): Promise<string[][]> {
    const lists: string[][] = [];
    for (const node of cluster.primaries()) {
      const list = `${(await redisCall(node.host, node.port, ["CLIENT", "LIST"])) as string}`.split("\n").filter((l) => l.startsWith("id="));
      lists.push(list.filter((l) => !/ cmd=client\|list /.test(l) && !/ flags=S /.test(l)));
    }
    return lists;
  }

  test("with 2,000 subscribers, while /pub and the API publish: one connection per worker and primary carries subscriptions and commands, within workers x (shards + 1)", async () => {
    const streams: Stream[] = [];
    for (let i = 0; i < 2000; i++) {
      streams.push(await new Stream(`${base}/sub?key=many${i}`).open());
    }
    await sleep(1000);
    const shards = cluster.primaries().length;
    const api = new PushgateApi(base);
    // commands flow on every primary while the connections are counted: durable publishing through
    // /pub and the API (single, broadcast over shards, batches), and acks/unread reads
    let publishing = true;
    let published = 0;
    const publisher = (async () => {
      for (let round = 0; publishing; round++) {
        const targets = [round % 2000, (round * 7 + 3) % 2000, (round * 13 + 5) % 2000];
        await Promise.all([
          publish(`many${targets[0]}`, `pub ${round}`),
          api.publish({ channel: `many${targets[1]}`, data: `api ${round}` }),
          api.broadcast({ channels: targets.map((t) => `many${t}`), data: `all ${round}` }),
          api.publishMany({ items: targets.map((t) => ({ channel: `many${t}`, data: `batch ${round}` })) }),
        ]);
        published += 1;
      }
    })();
    let counted = 0;
    for (let sample = 0; sample < 5; sample++) {
      await sleep(200);
      const lists = await gatewayClients();
      const all = lists.flat();
      // one connection per worker on each primary: it holds the worker's subscriptions there (ssub=N) and runs its commands
      for (const list of lists) {
        expect(list.length).toBeLessThanOrEqual(WORKERS);
      }
      const subscribed = all.filter((l) => / ssub=[1-9]/.test(l)).length;
      expect(subscribed).toBeGreaterThanOrEqual(shards);
      expect(subscribed).toBeLessThanOrEqual(WORKERS * shards);
      // the issue's bound
      expect(all.length).toBeLessThanOrEqual(WORKERS * (shards + 1));
      // commands ran on the subscribed connections (their last command was no SSUBSCRIBE)
      counted += all.filter((l) => / ssub=[1-9]/.test(l) && !/ cmd=ssubscribe /.test(l)).length;
    }
    publishing = false;
    await publisher;
    expect(published).toBeGreaterThan(3);
    expect(counted).toBeGreaterThan(0);
    const sample = [0, 1000, 1999];
    for (const i of sample) {
      await publish(`many${i}`, `to many${i}`);
    }
    for (const i of sample) {
      await eventually(() => messages(streams[i]).some((m) => m.data === `to many${i}`), 5000);
      expect(messages(streams[i]).map((m) => m.data)).toContain(`to many${i}`);
    }
    for (const stream of streams) {
      stream.close();
    }
  });

  /** POST /pub until the gateway takes it (503 while a shard fails over); one Idempotency-Key per message. */
  async function publishUntilTaken(channel: string, data: string, key: string): Promise<string> {
    const deadline = Date.now() + 20000;
    for (;;) {
      const answer = await fetchText(`${base}/pub?channel=${channel}`, { method: "POST", body: data, headers: { "Idempotency-Key": key } }).catch(
        () => undefined,
      );
      if (answer?.status === 200) {
        return (JSON.parse(answer.body) as { id: string }).id;
      }
      if (Date.now() > deadline) {
        throw new Error(`publishing ${data} was refused until the deadline: ${answer?.status} ${answer?.body}`);
      }
      await sleep(100);
    }
  }

  test("slot migration of a subscribed channel: the stream is told, subscribed again on the new owner, and delivery continues", async () => {
    const channel = oneChannelPerShard(owner, "moving", 1)[0];
    const slot = keySlot(channel);
    const nodes = parseClusterNodes(`${(await redisCall(cluster.primaries()[0].host, cluster.primaries()[0].port, ["CLUSTER", "NODES"])) as string}`);
    const primaries = nodes.filter((n) => n.flags.includes("master") && !n.flags.includes("fail"));
    const source = primaries.find((n) => n.address === owner(slot))!;
    const target = primaries.find((n) => n.address !== source.address)!;
    const [sourceHost, sourcePort] = source.address.split(":");
    const [targetHost, targetPort] = target.address.split(":");
    const stream = await new Stream(`${base}/sub?key=${channel}`).open();
    await sleep(300);
    const before = await publish(channel, "before");
    await stream.waitForMessages(1);

    expect(await redisCall(targetHost, Number(targetPort), ["CLUSTER", "SETSLOT", slot, "IMPORTING", source.id])).toBe("OK");
    expect(await redisCall(sourceHost, Number(sourcePort), ["CLUSTER", "SETSLOT", slot, "MIGRATING", target.id])).toBe("OK");
    const keys = (await redisCall(sourceHost, Number(sourcePort), ["CLUSTER", "GETKEYSINSLOT", slot, 100])) as string[];
    expect(keys).toContain(`pushgate:{${channel}}:stream`);
    expect(await redisCall(sourceHost, Number(sourcePort), ["MIGRATE", targetHost, targetPort, "", 0, 5000, "KEYS", ...keys])).toBe("OK");
    for (const name of [target.address, source.address, ...primaries.map((n) => n.address).filter((a) => a !== target.address && a !== source.address)]) {
      const [host, port] = name.split(":");
      expect(await redisCall(host, Number(port), ["CLUSTER", "SETSLOT", slot, "NODE", target.id])).toBe("OK");
    }
    // the source pushed sunsubscribe: the stream hears it, and is subscribed again on the target
    expect(await eventually(() => (stream.messages() as Line[]).some((m) => m.notice === "redis-restored"), 10000)).toBe(true);
    const after: string[] = [];
    for (let i = 0; i < 3; i++) {
      after.push(await publishUntilTaken(channel, `after ${i}`, `move-${i}`));
    }
    await eventually(() => messages(stream).length >= 4, 5000);
    await sleep(200);
    expect(messages(stream).map((m) => m.id)).toEqual([before.id, ...after]);
    expect((stream.messages() as Line[]).filter((m) => m.type === "notice").map((m) => m.notice)).toEqual(["redis-lost", "redis-restored"]);
    const [newOwner] = await Promise.all([redisCall(targetHost, Number(targetPort), ["CLUSTER", "COUNTKEYSINSLOT", slot])]);
    expect(newOwner).toBeGreaterThanOrEqual(2);
    stream.close();
  });

  test("two gateways on one cluster: every message reaches the subscribers of either, whichever gateway took it", async () => {
    const port = await freePort();
    const [settings, err] = parseSettings({
      listen: `127.0.0.1:${port}`,
      redisUrl: cluster.url,
      runtimeDir: join(dir, "nginx-second"),
      workers: "1",
      logLevel: "warn",
    });
    expect(err).toBeUndefined();
    const second = await startGateway(settings!, "ignore");
    const otherBase = `http://127.0.0.1:${port}`;
    try {
      const channels = oneChannelPerShard(owner, "both", 3);
      const key = channels.join(",");
      const here = await new Stream(`${base}/sub?key=${key}`).open();
      const there = await new Stream(`${otherBase}/sub?key=${key}`).open();
      await sleep(500);
      const sent: string[] = [];
      for (const [i, channel] of channels.entries()) {
        const at = i % 2 === 0 ? base : otherBase;
        const answer = await fetchText(`${at}/pub?channel=${channel}`, { method: "POST", body: `via ${at === base ? "first" : "second"}` });
        expect(answer.status).toBe(200);
        sent.push((JSON.parse(answer.body) as { id: string }).id);
      }
      for (const stream of [here, there]) {
        await stream.waitForMessages(3);
        expect(messages(stream).map((m) => m.id)).toEqual(sent);
        stream.close();
      }
      expect(luaErrors(readFileSync(second.errorLog, "utf8"))).toEqual([]);
    } finally {
      await second.stop();
    }
  });

  test("PUSHGATE_PUBLISH_REPLICAS=1: /pub answers only once a replica has the message; a retry after 503 is stored once", async () => {
    const primary = cluster.primaries()[1];
    const replica = cluster.replicas().find((node) => node.primaryId === primary.id)!;
    let channel = "";
    for (let n = 0; channel === ""; n++) {
      if (owner(keySlot(`replicated${n}`)) === `${primary.host}:${primary.port}`) {
        channel = `replicated${n}`;
      }
    }
    const port = await freePort();
    const [settings, err] = parseSettings({
      listen: `127.0.0.1:${port}`,
      redisUrl: cluster.url,
      runtimeDir: join(dir, "nginx-replicas"),
      workers: "1",
      logLevel: "warn",
      publishReplicas: "1",
      redisTimeoutMs: "500",
    });
    expect(err).toBeUndefined();
    const waiting = await startGateway(settings!, "ignore");
    try {
      const pub = (data: string, key: string, at: string): Promise<{ status: number; body: string }> =>
        fetchText(`${at}/pub?channel=${channel}`, { method: "POST", body: data, headers: { "Idempotency-Key": key } });
      const stream = await new Stream(`${base}/sub?key=${channel}`).open();
      await sleep(300);
      const first = await pub("replicated", "rep-1", `http://127.0.0.1:${port}`);
      expect(first.status).toBe(200);
      // the replica stops: the primary still takes writes, but no replica confirms them
      process.kill(replica.pid, "SIGSTOP");
      let stopped: { status: number; body: string };
      let unwaited: { status: number; body: string };
      try {
        stopped = await pub("not yet replicated", "rep-2", `http://127.0.0.1:${port}`);
        unwaited = await pub("with 0 replicas", "rep-3", base);
      } finally {
        process.kill(replica.pid, "SIGCONT");
      }
      expect(stopped.status).toBe(503);
      expect(unwaited.status).toBe(200);
      // once the replica is back, the retry finds the message stored, now replicated: the same id, once
      let retried = await pub("not yet replicated", "rep-2", `http://127.0.0.1:${port}`);
      for (let i = 0; i < 20 && retried.status !== 200; i++) {
        await sleep(250);
        retried = await pub("not yet replicated", "rep-2", `http://127.0.0.1:${port}`);
      }
      expect(retried.status).toBe(200);
      expect(JSON.parse(retried.body)).toMatchObject({ duplicate: true });
      await stream.waitForMessages(3);
      await sleep(200);
      expect(messages(stream).map((m) => m.data)).toEqual(["replicated", "not yet replicated", "with 0 replicas"]);
      expect(messages(stream)[1].id).toBe((JSON.parse(retried.body) as { id: string }).id);
      stream.close();
    } finally {
      await waiting.stop();
    }
  });

  test("failover: the primary of a subscribed channel is killed while durable messages are published and retried; every acknowledged one arrives once, in order", async () => {
    const victim = cluster.primaries()[0];
    const victimName = `${victim.host}:${victim.port}`;
    let channel = "";
    for (let n = 0; channel === ""; n++) {
      if (owner(keySlot(`failover${n}`)) === victimName) {
        channel = `failover${n}`;
      }
    }
    const [other] = oneChannelPerShard(owner, "steady", 3).filter((c) => owner(keySlot(c)) !== victimName);
    const stream = await new Stream(`${base}/sub?key=${channel},${other}`).open();
    await sleep(300);
    const acked: string[] = [];
    let killed: Promise<void> | undefined;
    for (let i = 0; i < 30; i++) {
      if (i === 10) {
        killed = cluster.kill(victim);
      }
      acked.push(await publishUntilTaken(channel, `m${i}`, `failover-${i}`));
      await sleep(30);
    }
    await killed;
    await cluster.waitForPromotion(victim, 15000);
    const steady = await publishUntilTaken(other, "other shard", "steady-1");
    expect(await eventually(() => messages(stream).length >= 31, 15000)).toBe(true);
    await sleep(300);
    expect(
      messages(stream)
        .filter((m) => m.channel === channel)
        .map((m) => m.id),
    ).toEqual(acked);
    expect(
      messages(stream)
        .filter((m) => m.channel === other)
        .map((m) => m.id),
    ).toEqual([steady]);
    const notices = (stream.messages() as Line[]).filter((m) => m.type === "notice").map((m) => m.notice);
    expect(notices).toContain("redis-lost");
    expect(notices).toContain("redis-restored");
    // the health check pings the primaries of the refreshed map and sees every channel carried again
    expect(await eventually(async () => (await fetchText(`${base}/healthz`)).status === 200, 10000)).toBe(true);
    stream.close();
  }, 60000);
});
