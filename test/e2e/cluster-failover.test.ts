// Zero loss on a real Redis Cluster while durable messages are published (POST /pub, retried with
// the same Idempotency-Key until acknowledged): four clients of one channel (a chunked stream,
// SSE, WebSocket, and a long-poll loop that resumes with its cursor after every batch) each get
// every acknowledged message once, in order,
//   - while the channel's slot moves to another primary (SETSLOT IMPORTING/MIGRATING, MIGRATE of
//     its keys, SETSLOT NODE everywhere), publishing all along;
//   - while the channel's primary is killed (SIGKILL) and a replica promoted, with
//     PUSHGATE_PUBLISH_REPLICAS=1 (an acknowledged message is on a replica). Two replicas per
//     primary, so the promoted primary still has a replica and WAIT 1 can succeed after it.

import "../../src/cli/multi";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Cluster, ClusterNodeEntry, parseClusterNodes, redisCall, startCluster } from "../../src/cli/cluster";
import { freePort, Gateway, startGateway } from "../../src/cli/gateway";
import { parseSettings } from "../../src/config/schema";
import { keySlot } from "../../src/protocol/slot";
import { PushgateApi } from "../../sdk/api";
import { SseClient, WsClient } from "./clients";
import { eventually, fetchText, luaErrors, sleep, Stream } from "./harness";

jest.setTimeout(60000);

/** One channel's four clients, each recording the data of the messages it received, in order. */
class Watchers {
  private polled: string[] = [];
  private stopped = false;
  private polling: Promise<void> = Promise.resolve();

  private constructor(
    readonly stream: Stream,
    readonly sse: SseClient,
    readonly ws: WsClient,
  ) {}

  static async open(base: string, channel: string): Promise<Watchers> {
    const stream = await new Stream(`${base}/sub?key=${channel}`).open();
    const sse = await new SseClient(`${base}/sse?key=${channel}`).opened();
    const ws = await new WsClient(`${base.replace(/^http/, "ws")}/ws?key=${channel}`).open();
    const watchers = new Watchers(stream, sse, ws);
    watchers.polling = watchers.poll(base, channel);
    return watchers;
  }

  /** Long-polls from the channel's start, each poll with the cursor the last batch gave. */
  private async poll(base: string, channel: string): Promise<void> {
    let cursor = `${channel}=0-0`;
    while (!this.stopped) {
      const answer = await fetchText(`${base}/lp?key=${channel}&since=${encodeURIComponent(cursor)}&timeout=1`).catch(() => undefined);
      if (answer?.status !== 200) {
        await sleep(100);
        continue;
      }
      const batch = JSON.parse(answer.body) as { messages: Array<{ data: string }>; cursor?: string };
      this.polled.push(...batch.messages.map((m) => m.data));
      cursor = batch.cursor ?? cursor;
    }
  }

  received(): Record<string, string[]> {
    return {
      stream: (this.stream.messages() as Array<{ type: string; data: string }>).filter((m) => m.type === "message").map((m) => m.data),
      sse: this.sse.messages().map((e) => e.data),
      ws: this.ws.of("message").map((f) => f.data as string),
      longpoll: [...this.polled],
    };
  }

  async close(): Promise<void> {
    this.stopped = true;
    await this.polling;
    this.stream.close();
    this.sse.close();
    this.ws.close();
  }
}

describe("zero loss on a Redis Cluster while publishing: slot migration, and failover with PUSHGATE_PUBLISH_REPLICAS=1", () => {
  let cluster: Cluster;
  let gateway: Gateway;
  let base: string;
  let dir: string;
  /** Every test's clients, closed after it however it ended. */
  const open: Watchers[] = [];
  /** Answers other than 200 that publishUntilTaken retried. */
  let refused = 0;

  beforeAll(async () => {
    cluster = await startCluster({ primaries: 3, replicasPerPrimary: 2, nodeTimeoutMs: 1000 });
    dir = mkdtempSync(join(tmpdir(), "pushgate-cluster-failover-"));
    const port = await freePort();
    const [settings, err] = parseSettings({
      listen: `127.0.0.1:${port}`,
      redisUrl: cluster.url,
      runtimeDir: join(dir, "nginx"),
      workers: "2",
      logLevel: "warn",
      publishReplicas: "1",
      redisTimeoutMs: "1000",
    });
    if (settings === undefined) {
      throw new Error(err);
    }
    gateway = await startGateway(settings, "ignore");
    base = `http://127.0.0.1:${port}`;
    expect(await eventually(async () => (await fetchText(`${base}/healthz`)).status === 200, 10000)).toBe(true);
  });

  afterEach(async () => {
    await Promise.all(open.splice(0).map((watchers) => watchers.close()));
  });

  afterAll(async () => {
    const errors = gateway !== undefined ? luaErrors(readFileSync(gateway.errorLog, "utf8")) : [];
    await gateway?.stop();
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
    expect(errors).toEqual([]);
  });

  /** The primaries as the cluster sees them now: address and node id. */
  async function primaries(): Promise<ClusterNodeEntry[]> {
    const seed = cluster.primaries()[0];
    const nodes = parseClusterNodes(`${(await redisCall(seed.host, seed.port, ["CLUSTER", "NODES"])) as string}`);
    return nodes.filter((n) => n.flags.includes("master") && !n.flags.includes("fail") && n.slots.length > 0);
  }

  /** The address of the primary serving `slot`. */
  async function ownerOf(slot: number): Promise<string> {
    for (const node of await primaries()) {
      for (const range of node.slots.filter((s) => !s.startsWith("["))) {
        const [first, last] = range.split("-").map(Number);
        if (slot >= first && slot <= (last ?? first)) {
          return node.address;
        }
      }
    }
    throw new Error(`no primary serves slot ${slot}`);
  }

  /** Moves `slot` from its owner to another primary, `during` called between MIGRATE and SETSLOT NODE; the target's address. */
  async function moveSlot(slot: number, channel: string, during: () => Promise<void> = async () => undefined): Promise<string> {
    const all = await primaries();
    const sourceAddress = await ownerOf(slot);
    const source = all.find((n) => n.address === sourceAddress)!;
    const target = all.find((n) => n.address !== source.address)!;
    const [sourceHost, sourcePort] = source.address.split(":");
    const [targetHost, targetPort] = target.address.split(":");
    expect(await redisCall(targetHost, Number(targetPort), ["CLUSTER", "SETSLOT", slot, "IMPORTING", source.id])).toBe("OK");
    expect(await redisCall(sourceHost, Number(sourcePort), ["CLUSTER", "SETSLOT", slot, "MIGRATING", target.id])).toBe("OK");
    await during();
    const keys = (await redisCall(sourceHost, Number(sourcePort), ["CLUSTER", "GETKEYSINSLOT", slot, 1000])) as string[];
    expect(keys).toContain(`pushgate:{${channel}}:stream`);
    expect(await redisCall(sourceHost, Number(sourcePort), ["MIGRATE", targetHost, targetPort, "", 0, 5000, "KEYS", ...keys])).toBe("OK");
    await during();
    for (const name of [target.address, source.address, ...all.map((n) => n.address).filter((a) => a !== target.address && a !== source.address)]) {
      const [host, port] = name.split(":");
      expect(await redisCall(host, Number(port), ["CLUSTER", "SETSLOT", slot, "NODE", target.id])).toBe("OK");
    }
    return target.address;
  }

  /** POST /pub until the gateway acknowledges it (503 while the shard fails over), one Idempotency-Key per message. */
  async function publishUntilTaken(channel: string, data: string): Promise<void> {
    const deadline = Date.now() + 20000;
    for (;;) {
      const answer = await fetchText(`${base}/pub?channel=${channel}`, { method: "POST", body: data, headers: { "Idempotency-Key": data } }).catch(
        () => undefined,
      );
      if (answer?.status === 200) {
        return;
      }
      refused += 1;
      if (Date.now() > deadline) {
        throw new Error(`publishing ${data} was refused until the deadline: ${answer?.status} ${answer?.body}`);
      }
      await sleep(50);
    }
  }

  /** Publishes `count` messages one after the other (each acknowledged before the next): their data, in order. */
  async function publishAll(channel: string, prefix: string, count: number): Promise<string[]> {
    const acked: string[] = [];
    for (let i = 0; i < count; i++) {
      await publishUntilTaken(channel, `${prefix}-${i}`);
      acked.push(`${prefix}-${i}`);
      await sleep(20);
    }
    return acked;
  }

  async function expectEveryoneGot(watchers: Watchers, acked: string[]): Promise<void> {
    const complete = (): boolean => Object.values(watchers.received()).every((got) => got.length >= acked.length);
    await eventually(complete, 15000);
    await sleep(300); // anything doubled would come now
    const expected = { stream: acked, sse: acked, ws: acked, longpoll: acked };
    expect(watchers.received()).toEqual(expected);
  }

  test("the channel's slot moves to another primary while messages are published: every acknowledged one arrives once, in order, to every client", async () => {
    const channel = "migrating-1";
    const slot = keySlot(channel);
    const watchers = await Watchers.open(base, channel);
    open.push(watchers);
    await sleep(300);
    let published = false;
    const publishing = publishAll(channel, "moving", 40).then((acked) => ((published = true), acked));
    await sleep(300);
    // publishing meanwhile: new keys (idempotency keys) go to the target by ASK
    const target = await moveSlot(slot, channel, () => sleep(200));
    expect(published).toBe(false); // the slot moved while messages were published
    const acked = await publishing;
    expect(await ownerOf(slot)).toBe(target);
    await expectEveryoneGot(watchers, acked);
  });

  test("broadcast and publish_many after a slot moved unknown to the gateway: the node's pipeline answers MOVED, those calls go again to the new owner", async () => {
    const api = new PushgateApi(base);
    const channels = ["batch-a", "batch-b", "batch-c", "batch-d", "batch-e", "batch-f"];
    const moved = channels[0];
    await api.broadcast({ channels, data: "first" }); // every channel's keys exist
    // no stream of this gateway subscribes the channel: nothing tells it the slot moved
    const target = await moveSlot(keySlot(moved), moved);
    const all = await api.broadcast({ channels, data: "after the move" });
    expect(all.map((r) => [r.channel, r.error])).toEqual(channels.map((c) => [c, undefined]));
    const many = await api.publishMany({ items: channels.map((c) => ({ channel: c, data: `own ${c}` })) });
    expect(many.map((r) => [r.channel, r.error])).toEqual(channels.map((c) => [c, undefined]));
    expect(await ownerOf(keySlot(moved))).toBe(target);
    for (const [i, channel] of channels.entries()) {
      expect((await api.history({ channel })).messages.map((m) => [m.data, m.id])).toEqual([
        ["first", expect.stringMatching(/^\d+-\d+$/) as string],
        ["after the move", all[i].id],
        [`own ${channel}`, many[i].id],
      ]);
    }
  });

  test("the channel's primary is killed while messages are published and retried: with PUSHGATE_PUBLISH_REPLICAS=1 every acknowledged one arrives once, in order, to every client", async () => {
    const channel = "failing-1";
    const victimAddress = await ownerOf(keySlot(channel));
    const victim = cluster.primaries().find((n) => `${n.host}:${n.port}` === victimAddress)!;
    const watchers = await Watchers.open(base, channel);
    open.push(watchers);
    await sleep(300);
    const publishing = publishAll(channel, "failover", 40);
    await sleep(300);
    refused = 0;
    await cluster.kill(victim);
    await cluster.waitForPromotion(victim, 15000);
    const acked = await publishing;
    expect(refused).toBeGreaterThan(0); // publishing met the failover and retried
    await expectEveryoneGot(watchers, acked);
  });
});
