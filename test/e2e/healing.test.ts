// The gateway heals its own gaps (shared mode), a slow client can catch up from history, health
// tells the truth, and the defects found reading the code stay fixed.

import { connect, Socket } from "node:net";
import { WsClient } from "./clients";
import { eventually, fetchText, luaErrors, sleep, Stack, Stream, useStack, withStack } from "./harness";

/** A durable publish straight into Redis, as a backend calling the function does (README). */
async function fcallPublish(stack: Stack, channel: string, data: string, length = 1000): Promise<string> {
  const reply = (await stack.client.sendCommand([
    "FCALL",
    "pushgate_publish",
    "3",
    `pushgate:{${channel}}:stream`,
    `pushgate:{${channel}}:meta`,
    "",
    channel,
    data,
    "",
    `${length}`,
    "86400000",
    "0",
  ])) as [string, number, number];
  return reply[0];
}

/**
 * Keeps the gateway's subscribe connections away from Redis while `during` runs: they are cut,
 * and new connections must authenticate (the gateway's fail) while the test's own stays in.
 */
async function gatewayAway(stack: Stack, during: () => Promise<void>): Promise<void> {
  await stack.client.sendCommand(["CONFIG", "SET", "requirepass", "keep-the-hub-out"]);
  await stack.client.sendCommand(["CLIENT", "KILL", "TYPE", "pubsub"]);
  try {
    await during();
  } finally {
    await stack.client.sendCommand(["CONFIG", "SET", "requirepass", ""]);
  }
}

type Line = { type: string; channel?: string; id?: string; notice?: string; message?: string; data?: string };

describe("shared mode heals what the hub missed", () => {
  const stack = useStack({ settings: { mode: "shared", workers: "1", history: "*=1000/86400,short:*=5/86400" } });

  test("durable messages published while the hub was away arrive once, in order, after a recovered notice, with no reconnect", async () => {
    const stream = await new Stream(`${stack.base}/sub?key=heal`).open();
    const before = await fcallPublish(stack, "heal", "before");
    await stream.waitForMessages(1);
    const missed: string[] = [];
    await gatewayAway(stack, async () => {
      await eventually(async () => (await stack.status()).workers.every((w) => !w.connected), 3000);
      for (let i = 0; i < 5; i++) {
        missed.push(await fcallPublish(stack, "heal", `missed ${i}`));
      }
    });
    expect(await eventually(() => stream.messages().filter((m) => (m as Line).type === "message").length >= 6, 10000)).toBe(true);
    await stack.client.publish("heal", "plain after"); // live again
    await stream.waitForMessages(99, 1000);
    const lines = stream.messages() as Line[];
    expect(stream.ended).toBe(false);
    const notices = lines.filter((l) => l.type === "notice").map((l) => l.notice);
    expect(notices).toEqual(["redis-lost", "redis-restored", "recovered"]);
    expect(lines.find((l) => l.notice === "recovered")!.message).toContain("5 messages of heal");
    expect(lines.filter((l) => l.type === "message").map((l) => l.id ?? l.data)).toEqual([before, ...missed, "plain after"]);
    stream.close();
  });

  test("history that no longer reaches back says gap, then what is kept", async () => {
    const stream = await new Stream(`${stack.base}/sub?key=short:1`).open();
    await fcallPublish(stack, "short:1", "first", 5);
    await stream.waitForMessages(1);
    const missed: string[] = [];
    await gatewayAway(stack, async () => {
      await eventually(async () => (await stack.status()).workers.every((w) => !w.connected), 3000);
      for (let i = 0; i < 8; i++) {
        missed.push(await fcallPublish(stack, "short:1", `missed ${i}`, 5));
      }
    });
    expect(await eventually(() => stream.messages().filter((m) => (m as Line).type === "message").length >= 6, 10000)).toBe(true);
    const lines = stream.messages() as Line[];
    expect(lines.filter((l) => l.type === "notice").map((l) => l.notice)).toEqual(["redis-lost", "redis-restored", "gap", "recovered"]);
    expect(lines.filter((l) => l.type === "message").map((l) => l.id)).toEqual([expect.any(String), ...missed.slice(3)]);
    stream.close();
  });

  test("the error log holds no Lua error and no ngx.sleep(0) warning (Debian's nginx lacks the patch it needs)", () => {
    expect(stack.errorLog()).not.toContain("ngx.sleep(0) called without delayed events patch");
    expect(luaErrors(stack.errorLog())).toEqual([]);
  });
});

describe("direct mode heals a stream whose connection broke", () => {
  const stack = useStack({ settings: { mode: "direct", workers: "1" } });

  test("the stream gets a new connection and what was published meanwhile, with no reconnect of the client", async () => {
    const stream = await new Stream(`${stack.base}/sub?key=dheal`).open();
    const before = await fcallPublish(stack, "dheal", "before");
    await stream.waitForMessages(1);
    const missed: string[] = [];
    await gatewayAway(stack, async () => {
      await eventually(() => stream.messages().length >= 2, 3000); // the redis-lost notice
      for (let i = 0; i < 4; i++) {
        missed.push(await fcallPublish(stack, "dheal", `missed ${i}`));
      }
    });
    expect(await eventually(() => stream.messages().filter((m) => (m as Line).type === "message").length >= 5, 10000)).toBe(true);
    const after = await fcallPublish(stack, "dheal", "after");
    await eventually(() => stream.messages().filter((m) => (m as Line).type === "message").length >= 6, 3000);
    const lines = stream.messages() as Line[];
    expect(stream.ended).toBe(false);
    expect(lines.filter((l) => l.type === "notice").map((l) => l.notice)).toEqual(["redis-lost", "redis-restored", "recovered"]);
    expect(lines.filter((l) => l.type === "message").map((l) => l.id)).toEqual([before, ...missed, after]);
    stream.close();
  });
});

/** A client that sends the request and then never reads: the kernel buffers fill, then nginx's. */
function stalledClient(base: string, path: string): Socket {
  const url = new URL(base);
  const socket = connect({ host: url.hostname, port: Number(url.port) });
  socket.on("connect", () => {
    socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
    socket.pause();
  });
  socket.on("error", () => undefined);
  return socket;
}

describe("overflow catch-up", () => {
  jest.setTimeout(90000);
  // These publishes keep 5,000 per channel (the FCALL's own cap, as a backend's): the kernel holds
  // about 1,000 of these 4 KB messages for a stalled client, so with the usual 1,000 whether a gap
  // opens would depend on buffer sizes.
  const stack = useStack({ settings: { mode: "shared", workers: "1", overflow: "catch-up", queueMessages: "100", queueBytes: "1048576" } });

  test("a client that stops reading loses nothing durable: it catches up from history when it reads again", async () => {
    const stalled = stalledClient(stack.base, "/sub?key=slow");
    await eventually(async () => (await stack.status()).totals.subscribers === 1, 3000);
    const payload = "y".repeat(4096);
    const ids: string[] = [];
    for (let i = 0; i < 2000; i++) {
      ids.push(await fcallPublish(stack, "slow", `${i} ${payload}`, 5000));
    }
    let received = "";
    stalled.on("data", (chunk: Buffer) => (received += chunk.toString("latin1")));
    stalled.resume();
    const got = (): string[] => [...received.matchAll(/"id":"(\d+-\d+)"/g)].map((m) => m[1]);
    expect(await eventually(() => got().length >= ids.length, 30000, 100)).toBe(true);
    expect(got()).toEqual(ids);
    expect(received).not.toContain("client too slow");
    expect(received).not.toContain('"notice":"gap"');
    expect((await stack.status()).totals.overflows).toBeGreaterThanOrEqual(1); // it did overflow, and caught up
    stalled.destroy();
  });

  test("what history no longer holds is told as a gap, then the stream goes on with what it keeps, in order", async () => {
    await withStack({ settings: { mode: "shared", workers: "1", overflow: "catch-up", queueMessages: "100", queueBytes: "1048576" } }, async (small) => {
      const stalled = stalledClient(small.base, "/sub?key=short");
      await eventually(async () => (await small.status()).totals.subscribers === 1, 3000);
      const payload = "z".repeat(4096);
      const ids: string[] = [];
      for (let i = 0; i < 3000; i++) {
        ids.push(await fcallPublish(small, "short", `${i} ${payload}`, 200)); // history keeps 200; 12 MB is more than the kernel holds
      }
      let received = "";
      stalled.on("data", (chunk: Buffer) => (received += chunk.toString("latin1")));
      stalled.resume();
      const got = (): string[] => [...received.matchAll(/"id":"(\d+-\d+)"/g)].map((m) => m[1]);
      expect(await eventually(() => got().at(-1) === ids.at(-1), 30000, 100)).toBe(true);
      const seen = got();
      const firstKept = ids.indexOf(seen[seen.length - 200]);
      expect(seen.slice(-200)).toEqual(ids.slice(-200)); // every message history kept
      expect(new Set(seen).size).toBe(seen.length); // none twice
      expect(seen.map((id) => ids.indexOf(id)).every((at, i, all) => at >= 0 && (i === 0 || at > all[i - 1]))).toBe(true); // in order
      expect(seen.length).toBeLessThan(ids.length); // some were lost: the kernel does not hold 12 MB
      expect(firstKept).toBe(ids.length - 200);
      const gapAt = received.indexOf('"notice":"gap"');
      expect(gapAt).toBeGreaterThan(-1); // and that was said, before what history kept
      expect(gapAt).toBeLessThan(received.indexOf(`"id":"${ids[ids.length - 200]}"`));
      stalled.destroy();
    });
  });
});

describe("health and operations", () => {
  test("/healthz is 503 naming what is down while Redis is stopped, 200 again after; /livez stays 200", async () => {
    await withStack({ settings: { mode: "shared", workers: "2", retryAfterSeconds: "1" } }, async (stack) => {
      expect(await eventually(async () => (await fetchText(`${stack.base}/healthz`)).status === 200, 5000)).toBe(true);
      expect(JSON.parse((await fetchText(`${stack.base}/healthz`)).body)).toEqual({ ok: true });
      const restarted = stack.restartRedis(4000); // killed now, started again 4 s later
      // the failed PING answers 503 at once; each worker's hub reports its loss within a second of it
      const namesHub = (answer: { status: number; body: string }): boolean => answer.status === 503 && answer.body.includes("hub of worker");
      expect(await eventually(async () => namesHub(await fetchText(`${stack.base}/healthz`)), 3000)).toBe(true);
      const down = await fetchText(`${stack.base}/healthz`);
      expect(down.status).toBe(503);
      expect(down.headers["retry-after"]).toBe("1");
      const body = JSON.parse(down.body) as { ok: boolean; down: string[] };
      expect(body.ok).toBe(false);
      expect(body.down.some((d) => d.startsWith("redis: "))).toBe(true);
      expect(body.down.some((d) => /^hub of worker \d: not connected to redis$/.test(d))).toBe(true);
      expect((await fetchText(`${stack.base}/livez`)).status).toBe(200);
      await restarted;
      expect(await eventually(async () => (await fetchText(`${stack.base}/healthz`)).status === 200, 10000)).toBe(true);
    });
  });

  test("/status needs the publisher key once credentials are on", async () => {
    const key = "k".repeat(40);
    await withStack({ settings: { publisherKey: key, workers: "1" } }, async (stack) => {
      const refused = await fetchText(`${stack.base}/status`);
      expect(refused.status).toBe(401);
      expect(JSON.parse(refused.body)).toEqual({ error: "this endpoint needs the publisher key: Authorization: Bearer <PUSHGATE_PUBLISHER_KEY>" });
      expect((await fetchText(`${stack.base}/status`, { headers: { Authorization: `Bearer ${"x".repeat(40)}` } })).status).toBe(401);
      expect((await stack.status()).workers.length).toBe(1);
    });
  });

  describe("requests with bodies", () => {
    const stack = useStack({ settings: { mode: "shared", workers: "1" } });

    test.each(["/sub", "/sse", "/lp"])("GET %s with a 67 KB body is refused at once and holds nothing", async (path) => {
      const url = new URL(stack.base);
      const socket = connect({ host: url.hostname, port: Number(url.port) });
      let answer = "";
      socket.on("data", (chunk: Buffer) => (answer += chunk.toString("latin1")));
      socket.on("error", () => undefined);
      await new Promise((done) => socket.on("connect", done));
      const body = "b".repeat(67 * 1024);
      socket.write(`GET ${path}?key=bodied HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
      expect(await eventually(() => answer.includes('"}'), 3000)).toBe(true);
      expect(answer).toMatch(/^HTTP\/1\.1 400 /);
      expect(answer).toContain('{"error":"a subscribe request carries no body: send GET without one"}');
      expect((await stack.status()).totals.subscribers).toBe(0);
      socket.destroy();
    });

    test("a chunked POST /pub body of exactly the limit stays in memory", async () => {
      const body = Buffer.alloc(1048576, "z"); // PUSHGATE_MAX_MESSAGE_BYTES' default
      const answer = await new Promise<number>((done, fail) => {
        const url = new URL(`${stack.base}/pub?channel=exact`);
        const socket = connect({ host: url.hostname, port: Number(url.port) });
        let text = "";
        socket.on("data", (chunk: Buffer) => (text += chunk.toString("latin1")));
        socket.on("error", fail);
        socket.on("close", () => done(Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1] ?? 0)));
        socket.on("connect", () => {
          socket.write(`POST ${url.pathname}${url.search} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n`);
          socket.write(`${body.length.toString(16)}\r\n`);
          socket.write(body);
          socket.write("\r\n0\r\n\r\n");
        });
      });
      expect(answer).toBe(200);
      await sleep(100);
      expect(stack.errorLog()).not.toContain("buffered to a temporary file");
    });
  });
});

describe.each(["shared", "direct"] as const)("a WebSocket's cursor after a subscribe frame (%s mode)", (mode) => {
  const stack = useStack({ settings: { mode, workers: "1" } });

  test("names the subscribed channel in both modes", async () => {
    const client = await new WsClient(`${stack.base.replace("http", "ws")}/ws?key=cur-a`).open();
    client.send({ type: "subscribe", channels: ["cur-b"], ref: "s" });
    await client.next((f) => f.type === "subscribed");
    await fetchText(`${stack.base}/pub?channel=cur-a`, { method: "POST", body: "one" });
    const message = await client.next((f) => f.type === "message");
    expect(String(message.cursor)).toMatch(/^cur-a=\d+-\d+,cur-b=\d+-\d+$/);
    client.close();
  });
});
