// Shared mode: the per-worker hub. Redis connections independent of the number of clients,
// every worker's subscribers served, channels unsubscribed when unused, hub connection failures
// survived with notices, and slow consumers bounded.

import { readFileSync } from "node:fs";
import { get } from "node:http";
import { connect, Socket } from "node:net";
import { eventually, gatewayRedisClients, sleep, Stack, Stream, useStack } from "./harness";

function workerPids(stack: Stack): number[] {
  const master = stack.gateway.process.pid!;
  const children = readFileSync(`/proc/${master}/task/${master}/children`, "utf8").trim();
  return children.split(/\s+/).map(Number);
}

function rssKb(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(match?.[1] ?? 0);
}

/** A client that sends the request and then never reads: the kernel buffers fill, then nginx's. */
function stalledClient(base: string, path: string): Socket {
  const url = new URL(base);
  const socket = connect({ host: url.hostname, port: Number(url.port) });
  socket.setNoDelay(true);
  socket.on("connect", () => {
    socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
    socket.pause();
  });
  socket.on("error", () => undefined);
  return socket;
}

describe("shared mode hub", () => {
  const stack = useStack({ settings: { mode: "shared", workers: "2" } });

  test("2,000 subscribers over 2 workers: Redis connections stay at most 2 x workers, and all receive", async () => {
    const streams: Stream[] = [];
    for (let i = 0; i < 2000; i += 200) {
      streams.push(...(await Promise.all(Array.from({ length: 200 }, () => new Stream(`${stack.base}/sub?key=many`).open()))));
    }
    expect(streams.every((s) => s.status === 200)).toBe(true);
    const clients = await gatewayRedisClients(stack.client);
    expect(clients.length).toBeLessThanOrEqual(4);
    // both workers hold subscribers (nginx spreads connections with reuseport)
    expect(
      await eventually(
        async () => {
          const { workers } = await stack.status();
          return workers.length === 2 && workers.every((w) => w.subscribers > 0) && workers.reduce((n, w) => n + w.subscribers, 0) === 2000;
        },
        3000,
        200,
      ),
    ).toBe(true);
    // /status reports each worker's Lua heap; the streams' live state alone is several KB each
    // (a heap without streams is about 1 MB per worker). Not a difference from before: the
    // garbage in a heap measured earlier may have been collected since.
    const { workers, totals } = await stack.status();
    expect(workers.every((w) => w.luaKb > 0)).toBe(true);
    expect(totals.luaKb).toBeGreaterThan(2000 * 2);
    await stack.client.publish("many", "one");
    await stack.client.publish("many", "two");
    expect(await eventually(() => streams.every((s) => s.messages().length >= 2), 15000)).toBe(true);
    for (const stream of streams) {
      expect(stream.messages()).toEqual([
        { type: "message", channel: "many", data: "one" },
        { type: "message", channel: "many", data: "two" },
      ]);
    }
    // publishing through /pub adds at most one pooled connection per worker
    await Promise.all(Array.from({ length: 50 }, () => fetch(`${stack.base}/pub?channel=many`, { method: "POST", body: "x" })));
    expect((await gatewayRedisClients(stack.client)).length).toBeLessThanOrEqual(4);
    streams.forEach((s) => s.close());
  });

  test("a channel is unsubscribed within a second of its last subscriber leaving", async () => {
    const streams = await Promise.all([1, 2, 3].map(() => new Stream(`${stack.base}/sub?key=transient`).open()));
    expect(await stack.client.sendCommand(["PUBSUB", "CHANNELS", "transient"])).toEqual(["transient"]);
    streams[0].close();
    await sleep(1200);
    expect(await stack.client.sendCommand(["PUBSUB", "CHANNELS", "transient"])).toEqual(["transient"]); // two remain
    streams[1].close();
    streams[2].close();
    const gone = Date.now();
    expect(await eventually(async () => ((await stack.client.sendCommand(["PUBSUB", "CHANNELS", "transient"])) as string[]).length === 0, 2000, 20)).toBe(true);
    expect(Date.now() - gone).toBeLessThan(1000 + 100);
  });

  test("CLIENT KILL of the hub connection: clients stay, are told, and delivery resumes", async () => {
    const streams = await Promise.all([1, 2, 3, 4, 5, 6].map(() => new Stream(`${stack.base}/sub?key=killed`).open()));
    const before = (await stack.status()).totals.reconnects;
    await stack.client.sendCommand(["CLIENT", "KILL", "TYPE", "pubsub"]);
    expect(await eventually(() => streams.every((s) => s.messages().length >= 2), 5000)).toBe(true);
    expect(
      await eventually(
        async () => {
          await stack.client.publish("killed", "resumed");
          return streams.every((s) => s.messages().some((m) => (m as { data?: string }).data === "resumed"));
        },
        5000,
        200,
      ),
    ).toBe(true);
    for (const stream of streams) {
      const [lost, restored] = stream.messages() as Array<{ type: string; notice: string }>;
      expect([lost.type, lost.notice, restored.type, restored.notice]).toEqual(["notice", "redis-lost", "notice", "redis-restored"]);
      expect(stream.ended).toBe(false);
      stream.close();
    }
    expect(await eventually(async () => (await stack.status()).totals.reconnects > before, 3000, 200)).toBe(true);
  });
});

/**
 * Reads a /sub stream incrementally, keeping only what the flood test checks: count and order of
 * the messages, and any other line (a notice or an error would mean this reader was cut short).
 */
class OrderedCounter {
  count = 0;
  inOrder = true;
  readonly otherLines: string[] = [];
  private rest = "";
  private readonly request: ReturnType<typeof get>;
  readonly opened: Promise<void>;

  constructor(url: string) {
    let opened: () => void = () => undefined;
    this.opened = new Promise((done) => (opened = done));
    this.request = get(url, { agent: false }, (res) => {
      res.setEncoding("utf8");
      opened();
      res.on("data", (chunk: string) => {
        const lines = (this.rest + chunk).split("\n");
        this.rest = lines.pop() ?? "";
        for (const line of lines) {
          if (line.length > 0) {
            const message = JSON.parse(line) as { type: string; data: string };
            if (message.type !== "message") {
              this.otherLines.push(line);
              continue;
            }
            this.inOrder &&= Number(message.data.substring(0, message.data.indexOf(" "))) === this.count;
            this.count += 1;
          }
        }
      });
    });
    this.request.on("error", () => undefined);
  }

  close(): void {
    this.request.destroy();
  }
}

describe.each(["disconnect", "drop-oldest"])("a stalled client (overflow %s)", (overflow) => {
  jest.setTimeout(120000);
  const stack = useStack({ settings: { mode: "shared", workers: "1", overflow, queueMessages: "1000", queueBytes: "4194304" } });

  test("neither delays the others nor grows the worker's memory without bound", async () => {
    const [worker] = workerPids(stack);
    const stalled = stalledClient(stack.base, "/sub?key=flood");
    const readers = [1, 2, 3].map(() => new OrderedCounter(`${stack.base}/sub?key=flood`));
    await Promise.all(readers.map((r) => r.opened));
    await eventually(async () => (await stack.status()).totals.subscribers === 4, 3000);
    const rssBefore = rssKb(worker);
    const payload = "x".repeat(2 * 1024);
    const total = 10000;
    for (let i = 0; i < total; i += 100) {
      // The readers share this process (and, under a parallel test run, the CPUs) with the
      // publisher: publish at their pace, at most 500 messages ahead of the slowest, so only the
      // stalled client can reach the 1,000-message queue bound. A reader held up by the stalled
      // one would stop this loop, and the checks below fail.
      if (!(await eventually(() => readers.every((r) => r.count >= i - 500), 30000, 2))) {
        break;
      }
      await Promise.all(Array.from({ length: 100 }, (_, j) => stack.client.publish("flood", `${i + j} ${payload}`)));
    }
    // the readers get all 10,000 messages (20 MB), in order, while one client reads nothing
    expect(await eventually(() => readers.every((r) => r.count >= total), 60000, 100)).toBe(true);
    for (const reader of readers) {
      expect([reader.count, reader.inOrder, reader.otherLines]).toEqual([total, true, []]);
      reader.close();
    }
    const grownKb = rssKb(worker) - rssBefore;
    // 20 MB went through; the stalled client may hold at most its queue (4 MiB) plus buffers
    expect(grownKb).toBeLessThan(40 * 1024);
    const { totals } = await stack.status();
    if (overflow === "disconnect") {
      expect(totals.overflows).toBeGreaterThanOrEqual(1);
    } else {
      expect(totals.dropped).toBeGreaterThan(0);
    }
    // the stalled client now reads: what it finds says what happened
    let received = "";
    stalled.on("data", (chunk: Buffer) => (received += chunk.toString("latin1")));
    stalled.resume();
    const expected = overflow === "disconnect" ? '{"type":"error","error":"client too slow: its queue overflowed","reconnect":true}' : '"notice":"dropped"';
    expect(await eventually(() => received.includes(expected), 20000, 100)).toBe(true);
    stalled.destroy();
  });
});
