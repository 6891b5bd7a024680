// Presence across two gateways sharing one Redis: who is in a channel and who is online, join and
// leave notices debounced by the grace, and a gateway killed with SIGKILL dropping out by itself
// (its entries expire: refresh 1 s here, so within about 2.5 s). Then the same on a real Redis
// Cluster: presence, presence_stats, online, channels and unread through POST /api, join notices
// (SPUBLISH there) and an offline event.

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Cluster, startCluster } from "../../src/cli/cluster";
import { Gateway, startGateway } from "../../src/cli/gateway";
import { parseSettings } from "../../src/config/schema";
import { keySlot } from "../../src/protocol/slot";
import type { GatewayStatus } from "../../src/protocol/status";
import { SseClient, WsClient } from "./clients";
import { eventually, fetchText, freePort, OwnGateway, startGatewayOn, luaErrors, sleep, Stack, startStack, Stream } from "./harness";

const SETTINGS = { presenceNotify: "room:*", presenceGraceSeconds: "1", presenceRefreshSeconds: "1" };

interface Presence {
  connections: number;
  users: number;
  userIds?: string[];
  next?: number | null;
}

async function rpc<T>(base: string, method: string, params: Record<string, unknown>): Promise<T> {
  const answer = await fetchText(`${base}/api`, { method: "POST", body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }) });
  const parsed = JSON.parse(answer.body) as { result?: T; error?: { message: string } };
  if (parsed.result === undefined) {
    throw new Error(`${method}: ${answer.status} ${answer.body}`);
  }
  return parsed.result;
}

/** The join and leave notices a chunked stream received, as "join alice". */
function presenceNotices(stream: Stream): string[] {
  return (stream.messages() as Array<{ type: string; notice?: string; message?: string }>)
    .filter((m) => m.type === "notice" && (m.notice === "join" || m.notice === "leave"))
    .map((m) => `${m.notice} ${(JSON.parse(m.message ?? "{}") as { user: string }).user}`);
}

describe("presence on two gateways", () => {
  let stack: Stack;
  let second: Gateway;
  let secondBase: string;
  let own: OwnGateway | undefined;

  beforeAll(async () => {
    stack = await startStack({ settings: SETTINGS });
    own = await startGatewayOn(stack.redis.url, SETTINGS);
    ({ gateway: second, base: secondBase } = own);
  });

  afterAll(async () => {
    await own?.stop();
    expect(luaErrors(stack.errorLog())).toEqual([]);
    await stack.stop();
  });

  test("counts connections and users of a channel and who is online, on every gateway; join and leave reach subscribers", async () => {
    const observer = await new Stream(`${stack.base}/sub?key=room:1`).open();
    const sseObserver = await new SseClient(`${secondBase}/sse?key=room:1`).opened();
    const alice = await new Stream(`${stack.base}/sub?key=room:1&user=alice`).open();
    const bob = new WsClient(`${secondBase.replace("http", "ws")}/ws?key=room:1,room:2&user=bob`);
    const bobTwo = await new Stream(`${secondBase}/sse?key=room:1&user=bob`).open();
    let presence: Presence = { connections: 0, users: 0 };
    expect(
      await eventually(async () => {
        presence = await rpc<Presence>(secondBase, "presence", { channel: "room:1" });
        return presence.connections === 5;
      }),
    ).toBe(true);
    expect(presence).toEqual({ channel: "room:1", connections: 5, users: 2, userIds: ["alice", "bob"], next: null });
    expect(await rpc<Presence>(stack.base, "presence_stats", { channel: "room:2" })).toEqual({ channel: "room:2", connections: 1, users: 1 });
    // active channels on both gateways, by pattern
    expect(await rpc(stack.base, "channels", { pattern: "room:*" })).toEqual({
      channels: [
        { channel: "room:1", connections: 5, users: 2 },
        { channel: "room:2", connections: 1, users: 1 },
      ],
      truncated: false,
    });
    expect(await rpc(secondBase, "channels", { pattern: "room:2" })).toEqual({ channels: [{ channel: "room:2", connections: 1, users: 1 }], truncated: false });
    expect(await rpc<Presence>(stack.base, "presence", { channel: "room:1", limit: 1 })).toMatchObject({ userIds: ["alice"], next: 1 });
    expect(await rpc<Presence>(stack.base, "presence", { channel: "room:1", offset: 1, limit: 1 })).toMatchObject({ userIds: ["bob"], next: null });
    const online = await rpc<Record<string, { online: boolean; connections: number; lastSeen: number | null }>>(stack.base, "online", {
      users: ["alice", "bob", "carol"],
    });
    expect(online.alice).toMatchObject({ online: true, connections: 1 });
    expect(online.bob).toMatchObject({ online: true, connections: 2 });
    expect(online.carol).toEqual({ online: false, connections: 0, lastSeen: null });
    // the observer saw each user join once, from either gateway
    expect(await eventually(() => presenceNotices(observer).length >= 2)).toBe(true);
    expect(presenceNotices(observer).sort()).toEqual(["join alice", "join bob"]);
    // SSE subscribers get them as `notice` events, WebSocket subscribers as notice frames
    expect(await eventually(() => sseObserver.events.filter((e) => e.type === "notice" && e.data.includes('"notice":"join"')).length === 2)).toBe(true);
    sseObserver.close();
    expect(await eventually(() => bob.frames.some((f) => f.type === "notice" && f.notice === "join"))).toBe(true);

    // a reconnect within the grace is neither a leave nor a join
    alice.close();
    await sleep(300);
    const aliceAgain = await new Stream(`${stack.base}/sub?key=room:1&user=alice`).open();
    await sleep(2000);
    expect(presenceNotices(observer).sort()).toEqual(["join alice", "join bob"]);

    // one of bob's two connections ends: still present, no leave
    bobTwo.close();
    await sleep(1500);
    expect(presenceNotices(observer).sort()).toEqual(["join alice", "join bob"]);

    // alice leaves for good: a leave after the grace, and she is offline with a last-seen time
    const before = Date.now();
    aliceAgain.close();
    expect(await eventually(() => presenceNotices(observer).includes("leave alice"), 5000)).toBe(true);
    expect(Date.now() - before).toBeGreaterThanOrEqual(900);
    const gone = await rpc<Record<string, { online: boolean; lastSeen: number }>>(secondBase, "online", { users: ["alice"] });
    expect(gone.alice.online).toBe(false);
    expect(gone.alice.lastSeen).toBeGreaterThan(before - 5000);
    expect((await rpc<Presence>(stack.base, "presence", { channel: "room:1" })).userIds).toEqual(["bob"]);
    bob.socket.close();
    observer.close();
  }, 30000);

  test("600 anonymous connections of a channel stay counted over many refreshes (several per call); those that leave are not refreshed back", async () => {
    const crowd: Stream[] = [];
    for (let i = 0; i < 600; i += 100) {
      crowd.push(...(await Promise.all(Array.from({ length: 100 }, () => new Stream(`${stack.base}/sub?key=crowd`).open()))));
    }
    const count = async (): Promise<number> => (await rpc<Presence>(stack.base, "presence_stats", { channel: "crowd" })).connections;
    expect(await eventually(async () => (await count()) === 600)).toBe(true);
    // entries live 2.5 s here: only the refreshes keep them
    await sleep(4000);
    expect(await count()).toBe(600);
    crowd.splice(0, 100).forEach((s) => s.close());
    expect(await eventually(async () => (await count()) === 500, 3000)).toBe(true);
    await sleep(3000);
    expect(await count()).toBe(500);
    crowd.forEach((s) => s.close());
    expect(await eventually(async () => (await count()) === 0, 3000)).toBe(true);
  }, 30000);

  test("a gateway killed with SIGKILL drops out of presence within about two refresh intervals", async () => {
    const carol = await new Stream(`${secondBase}/sub?key=room:9&user=carol`).open();
    expect(await eventually(async () => (await rpc<Presence>(stack.base, "presence_stats", { channel: "room:9" })).connections === 1)).toBe(true);
    const status = JSON.parse((await fetchText(`${secondBase}/status`)).body) as GatewayStatus;
    const killedAt = Date.now();
    process.kill(second.process.pid ?? 0, "SIGKILL");
    for (const worker of status.workers) {
      process.kill(worker.pid, "SIGKILL");
    }
    let presence: Presence = { connections: 1, users: 1 };
    expect(
      await eventually(
        async () => {
          presence = await rpc<Presence>(stack.base, "presence", { channel: "room:9" });
          return presence.connections === 0;
        },
        6000,
        100,
      ),
    ).toBe(true);
    expect(presence).toMatchObject({ connections: 0, users: 0, userIds: [] });
    // entries live 2.5 refreshes (2.5 s here): not dropped before that
    expect(Date.now() - killedAt).toBeGreaterThan(1000);
    const online = await rpc<Record<string, { online: boolean }>>(stack.base, "online", { users: ["carol"] });
    expect(online.carol.online).toBe(false);
    carol.close();
  }, 20000);
});

describe("presence and the server API on a Redis Cluster", () => {
  let cluster: Cluster;
  let gateway: Gateway;
  let base: string;
  let dir: string;
  /** Channels and users spread over the cluster's three primaries. */
  const rooms = ["room:a", "room:b", "room:c", "room:d"];

  beforeAll(async () => {
    cluster = await startCluster({ primaries: 3, replicasPerPrimary: 0 });
    dir = mkdtempSync(join(tmpdir(), "pushgate-cluster-"));
    const port = await freePort();
    const [settings, err] = parseSettings({
      listen: `127.0.0.1:${port}`,
      redisUrl: cluster.url,
      runtimeDir: join(dir, "nginx"),
      workers: "2",
      offlineGraceSeconds: "1",
      ...SETTINGS,
    });
    if (settings === undefined) {
      throw new Error(err);
    }
    gateway = await startGateway(settings, "ignore");
    base = `http://127.0.0.1:${port}`;
  }, 60000);

  afterAll(async () => {
    const errors = gateway !== undefined ? luaErrors(readFileSync(gateway.errorLog, "utf8")) : [];
    await gateway?.stop();
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
    expect(errors).toEqual([]);
  });

  test("presence, presence_stats, online, channels and unread answer across the cluster's slots; join notices and offline events work there", async () => {
    // the channels' keys live on more than one primary (16384 slots, three ranges)
    expect(new Set(rooms.map((room) => Math.floor(keySlot(room) / 5462))).size).toBeGreaterThan(1);
    const observer = await new Stream(`${base}/sub?key=room:a`).open();
    const streams: Stream[] = [];
    for (const [i, room] of rooms.entries()) {
      streams.push(await new Stream(`${base}/sub?key=${room},room:a&user=u${i}`).open());
    }
    expect(await eventually(async () => (await rpc<Presence>(base, "presence_stats", { channel: "room:a" })).connections === rooms.length + 1, 8000)).toBe(
      true,
    );
    expect(await rpc<Presence>(base, "presence", { channel: "room:a" })).toEqual({
      channel: "room:a",
      connections: 5,
      users: 4,
      userIds: ["u0", "u1", "u2", "u3"],
      next: null,
    });
    expect(await rpc<Presence>(base, "presence_stats", { channel: "room:c" })).toEqual({ channel: "room:c", connections: 1, users: 1 });
    const online = await rpc<Record<string, { online: boolean; connections: number }>>(base, "online", { users: ["u0", "u1", "u2", "u3", "nobody"] });
    for (const user of ["u0", "u1", "u2", "u3"]) {
      expect(online[user]).toMatchObject({ online: true, connections: 1 });
    }
    expect(online.nobody).toMatchObject({ online: false, connections: 0 });
    // every primary is scanned
    expect(await rpc(base, "channels", { pattern: "room:*" })).toEqual({
      channels: [
        { channel: "room:a", connections: 5, users: 4 },
        { channel: "room:b", connections: 1, users: 1 },
        { channel: "room:c", connections: 1, users: 1 },
        { channel: "room:d", connections: 1, users: 1 },
      ],
      truncated: false,
    });
    // join notices go out with SPUBLISH, where the hub listens
    expect(await eventually(() => presenceNotices(observer).length >= 4)).toBe(true);
    expect(presenceNotices(observer).sort()).toEqual(["join u0", "join u1", "join u2", "join u3"]);

    const published = await fetchText(`${base}/pub?channel=user:u1`, { method: "POST", body: "hi" });
    expect(published.status).toBe(200);
    expect(await rpc(base, "unread", { user: "u1", channels: ["user:u1", "room:b"] })).toEqual({ user: "u1", unread: { "user:u1": 1, "room:b": 0 } });

    // u2 leaves: a leave notice after the grace, and one offline event in the stream's slot
    streams[2].close();
    expect(await eventually(() => presenceNotices(observer).includes("leave u2"), 6000)).toBe(true);
    const seed = cluster.primaries()[0];
    const offline = async (): Promise<string[]> => {
      const run = spawnSync("redis-cli", ["-c", "-h", seed.host, "-p", `${seed.port}`, "--no-raw", "XRANGE", "pushgate:events", "-", "+"], {
        encoding: "utf8",
      });
      return run.stdout.split("\n").filter((line) => line.includes('"u2"'));
    };
    expect(await eventually(async () => (await offline()).length > 0, 8000, 200)).toBe(true);
    await sleep(2000);
    expect((await offline()).length).toBe(1);
    for (const stream of streams) {
      stream.close();
    }
    observer.close();
  }, 40000);
});
