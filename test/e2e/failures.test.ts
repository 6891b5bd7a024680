// What a stream does when things go wrong: Redis unreachable, Redis gone mid-stream, nginx
// reloading or stopping, and how the launcher treats bad settings. In every subscription mode.

import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { redisAnswers, startGateway, ROOT } from "../../src/cli/gateway";
import { parseSettings } from "../../src/config/schema";
import { eventually, fetchText, freePort, gatewayRedisClients, luaErrors, MODES, sleep, startStack, Stream, withStack } from "./harness";

const LAUNCHER = resolve(ROOT, "build/src/cli/start.js");

describe.each(MODES)("%s mode", (mode) => {
  test("Redis unreachable: 503 with Retry-After, for /sub and /pub", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pushgate-test-"));
    const deadRedis = await freePort();
    const httpPort = await freePort();
    const [settings] = parseSettings({
      mode,
      listen: `127.0.0.1:${httpPort}`,
      redisUrl: `redis://127.0.0.1:${deadRedis}/0`,
      runtimeDir: dir,
      workers: "1",
      retryAfterSeconds: "7",
    });
    const gateway = await startGateway(settings!, "ignore");
    try {
      const sub = await fetchText(`http://127.0.0.1:${httpPort}/sub?key=abc`);
      expect(sub.status).toBe(503);
      expect(sub.headers["retry-after"]).toBe("7");
      expect(JSON.parse(sub.body)).toEqual({ error: "redis is unavailable, try again later" });
      const pub = await fetchText(`http://127.0.0.1:${httpPort}/pub?channel=abc`, { method: "POST", body: "x" });
      expect(pub.status).toBe(503);
      expect(pub.headers["retry-after"]).toBe("7");
    } finally {
      await gateway.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  if (mode === "direct") {
    test("Redis killed mid-stream and not back: the stream is told at once, then ends with an error line asking to reconnect", async () => {
      await withStack({ settings: { mode } }, async (stack) => {
        const stream = await new Stream(`${stack.base}/sub?key=doomed`).open();
        await stack.client.publish("doomed", "before");
        await stream.waitForMessages(1);
        stack.redis.process.kill("SIGKILL");
        await stream.done;
        expect(stream.messages()).toEqual([
          { type: "message", channel: "doomed", data: "before" },
          { type: "notice", notice: "redis-lost", message: "redis connection lost: messages published until it is restored may be missed" },
          { type: "error", error: "redis connection lost", reconnect: true },
        ]);
        expect(luaErrors(stack.errorLog())).toEqual([]);
      });
    });
  } else {
    test("Redis restarted mid-stream: streams stay open, are told, and delivery resumes", async () => {
      await withStack({ settings: { mode } }, async (stack) => {
        const streams = await Promise.all([1, 2, 3, 4].map(() => new Stream(`${stack.base}/sub?key=doomed`).open()));
        await stack.client.publish("doomed", "before");
        await Promise.all(streams.map((s) => s.waitForMessages(1)));
        await stack.client.disconnect();
        await stack.restartRedis();
        await stack.client.connect();
        // every stream is told twice: messages may have been missed, then subscribed again
        expect(await eventually(() => streams.every((s) => s.messages().length >= 3), 10000)).toBe(true);
        expect(
          await eventually(
            async () => {
              await stack.client.publish("doomed", "after");
              return streams.every((s) => s.messages().length >= 4);
            },
            5000,
            200,
          ),
        ).toBe(true);
        for (const stream of streams) {
          expect(stream.ended).toBe(false);
          const [first, lost, restored, after] = stream.messages() as Array<Record<string, unknown>>;
          expect(first).toEqual({ type: "message", channel: "doomed", data: "before" });
          expect(lost).toMatchObject({ type: "notice", notice: "redis-lost" });
          expect(restored).toMatchObject({ type: "notice", notice: "redis-restored" });
          expect(after).toEqual({ type: "message", channel: "doomed", data: "after" });
          stream.close();
        }
        // counted: statistics reach /status within a second
        expect(
          await eventually(
            async () => {
              const { totals } = await stack.status();
              return totals.reconnects >= 1 && totals.notices >= 8;
            },
            3000,
            200,
          ),
        ).toBe(true);
        expect(luaErrors(stack.errorLog())).toEqual([]);
      });
    });
  }

  test("nginx reload: open streams end cleanly, asking to reconnect; new streams work", async () => {
    await withStack({ settings: { mode } }, async (stack) => {
      const streams = await Promise.all([1, 2, 3].map(() => new Stream(`${stack.base}/sub?key=reloading`).open()));
      stack.gateway.reload();
      await Promise.all(streams.map((s) => s.done));
      for (const stream of streams) {
        expect(stream.messages()).toEqual([{ type: "error", error: "server restart", reconnect: true }]);
      }
      const again = await new Stream(`${stack.base}/sub?key=reloading`).open();
      expect(again.status).toBe(200);
      expect(
        await eventually(async () => {
          await stack.client.publish("reloading", "after reload");
          return again.messages().length > 0;
        }),
      ).toBe(true);
      expect(again.messages()[0]).toEqual({ type: "message", channel: "reloading", data: "after reload" });
      again.close();
      expect(luaErrors(stack.errorLog())).toEqual([]);
    });
  });

  test("nginx stop: open streams end with the same reconnect line", async () => {
    const stack = await startStack({ settings: { mode } });
    const stream = await new Stream(`${stack.base}/sub?key=stopping`).open();
    const stopped = stack.gateway.stop();
    await stream.done;
    await stopped;
    expect(stream.messages()).toEqual([{ type: "error", error: "server restart", reconnect: true }]);
    await stack.stop();
  });
});

test("direct mode spreads Redis connections over the configured source addresses", async () => {
  await withStack({ settings: { mode: "direct", sourceAddresses: "127.0.0.1,127.0.0.2", workers: "1" } }, async (stack) => {
    const streams = await Promise.all([1, 2, 3, 4].map((i) => new Stream(`${stack.base}/sub?key=spread${i}`).open()));
    const clients = (await gatewayRedisClients(stack.client)).filter((line) => line.includes("cmd=subscribe"));
    const sources = new Set(clients.map((line) => /addr=([\d.]+):/.exec(line)?.[1]));
    expect(clients.length).toBe(4);
    expect([...sources].sort()).toEqual(["127.0.0.1", "127.0.0.2"]);
    streams.forEach((s) => s.close());
  });
});

describe("launcher (npm start)", () => {
  function launch(env: Record<string, string>): { output: () => string; exit: Promise<number | null>; kill: (signal: NodeJS.Signals) => void } {
    const child = spawn("node", [LAUNCHER], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (out += chunk.toString()));
    const exit = new Promise<number | null>((done) => child.on("exit", (code) => done(code)));
    return { output: () => out, exit, kill: (signal) => child.kill(signal) };
  }

  test.each([
    ["PUSHGATE_MODE", "turbo", "invalid setting PUSHGATE_MODE (mode): expected direct or shared"],
    ["PUSHGATE_WORKERS", "many", "invalid setting PUSHGATE_WORKERS (workers)"],
    ["PUSHGATE_LISTEN", "127.0.0.1:0", "invalid setting PUSHGATE_LISTEN (listen)"],
    ["PUSHGATE_REDIS_URL", "mysql://x", "invalid setting PUSHGATE_REDIS_URL (redisUrl)"],
    ["PUSHGATE_CONFIG", "/nonexistent/pushgate.json", "cannot read the config file"],
  ])("a bad %s=%s stops start-up with a message naming it", async (name, value, message) => {
    const run = launch({ [name]: value });
    expect(await run.exit).toBe(2);
    expect(run.output()).toContain(message);
  });

  test("starts nginx, serves the demo, and stops everything it started on SIGTERM", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pushgate-test-"));
    const redisPort = await freePort();
    const httpPort = await freePort();
    const redis = spawn("redis-server", ["--port", `${redisPort}`, "--bind", "127.0.0.1", "--save", "", "--dir", dir], { stdio: "ignore" });
    try {
      expect(await eventually(() => redisAnswers("127.0.0.1", redisPort))).toBe(true);
      const run = launch({
        PUSHGATE_LISTEN: `127.0.0.1:${httpPort}`,
        PUSHGATE_REDIS_URL: `redis://127.0.0.1:${redisPort}`,
        PUSHGATE_RUNTIME_DIR: dir,
        PUSHGATE_WORKERS: "1",
      });
      expect(await eventually(() => run.output().includes("pushgate: ready"), 15000)).toBe(true);
      expect(run.output()).toContain(`curl -N 'http://127.0.0.1:${httpPort}/sub?key=abc'`);
      // auth off: said loudly, by the launcher and in nginx's error log
      expect(run.output()).toContain("WARNING: PUSHGATE_JWT_SECRET is not set");
      expect(readFileSync(join(dir, "logs/error.log"), "utf8")).toContain("PUSHGATE_JWT_SECRET is not set");
      const stream = await new Stream(`http://127.0.0.1:${httpPort}/sub?key=abc`).open();
      const pub = await fetchText(`http://127.0.0.1:${httpPort}/pub?channel=abc`, { method: "POST", body: "123" });
      expect(pub.status).toBe(200);
      expect(await stream.waitForMessages(1)).toMatchObject([{ type: "message", channel: "abc", data: "123" }]);
      run.kill("SIGTERM");
      expect(await run.exit).toBe(0);
      await stream.done;
      // nginx is gone: nothing answers on the port any more
      await sleep(100);
      await expect(fetchText(`http://127.0.0.1:${httpPort}/healthz`)).rejects.toThrow();
    } finally {
      redis.kill("SIGTERM");
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
