// Presence across two gateways sharing one Redis: who is in a channel and who is online, join and
// leave notices debounced by the grace, and a gateway killed with SIGKILL dropping out by itself
// (its entries expire: refresh 1 s here, so within about 2.5 s).

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Gateway, startGateway } from "../../src/cli/gateway";
import { parseSettings } from "../../src/config/schema";
import type { GatewayStatus } from "../../src/protocol/status";
import { SseClient, WsClient } from "./clients";
import { eventually, fetchText, freePort, luaErrors, sleep, Stack, startStack, Stream } from "./harness";

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
  let secondDir: string;

  beforeAll(async () => {
    stack = await startStack({ settings: SETTINGS });
    secondDir = mkdtempSync(join(tmpdir(), "pushgate-test-"));
    const port = await freePort();
    const [settings, err] = parseSettings({ listen: `127.0.0.1:${port}`, redisUrl: stack.redis.url, runtimeDir: secondDir, workers: "2", ...SETTINGS });
    if (settings === undefined) {
      throw new Error(err);
    }
    second = await startGateway(settings, "ignore");
    secondBase = `http://127.0.0.1:${port}`;
  });

  afterAll(async () => {
    await second?.stop();
    rmSync(secondDir, { recursive: true, force: true });
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
