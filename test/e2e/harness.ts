// End-to-end harness: real Redis and real nginx on free loopback ports, each test stack in its own
// temporary directory, and real clients (Node's http, curl). Stops only what it started.

import { ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { get, IncomingHttpHeaders, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient, RedisClientType } from "redis";
import { freePort, Gateway, RedisServer, startGateway, startRedis } from "../../src/cli/gateway";

export { freePort };
import type { GatewayStatus } from "../../src/protocol/status";
import { parseSettings, Settings } from "../../src/config/schema";

/** The subscription modes every transport test runs in. */
export const MODES: Array<"direct" | "shared"> = ["shared", "direct"];

export function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

/** Polls `check` until it is true or `timeoutMs` passes; returns the last result. */
export async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 5000, stepMs = 25): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) {
      return true;
    }
    if (Date.now() > deadline) {
      return false;
    }
    await sleep(stepMs);
  }
}

export interface Stack {
  dir: string;
  base: string;
  redis: RedisServer;
  gateway: Gateway;
  settings: Settings;
  /** A node-redis client for publishing and inspecting Redis. */
  client: RedisClientType;
  stop(): Promise<void>;
  errorLog(): string;
  /** Stops Redis (SIGKILL, or a SHUTDOWN command) and starts a new one on the same port and directory. */
  restartRedis(downMs?: number, how?: "kill" | "shutdown"): Promise<void>;
  /** GET /status, parsed. */
  status(): Promise<GatewayStatus>;
}

export interface StackOptions {
  settings?: Record<string, string>;
  redisArgs?: string[];
}

/** Starts Redis and the gateway with `settings` (raw setting values) over the test defaults. */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const dir = mkdtempSync(join(tmpdir(), "pushgate-test-"));
  const redisPort = await freePort();
  const redis = await startRedis("127.0.0.1", redisPort, join(dir, "redis"), options.redisArgs ?? []);
  let gateway: Gateway | undefined;
  let client: RedisClientType | undefined;
  try {
    const httpPort = await freePort();
    const [settings, err] = parseSettings({
      listen: `127.0.0.1:${httpPort}`,
      redisUrl: redis.url,
      runtimeDir: join(dir, "nginx"),
      workers: "2",
      workerConnections: "8192",
      logLevel: "warn",
      ...options.settings,
    });
    if (settings === undefined) {
      throw new Error(err);
    }
    gateway = await startGateway(settings, "ignore");
    client = createClient({ url: redis.url }) as RedisClientType;
    client.on("error", () => undefined); // a test may kill Redis on purpose
    await client.connect();
    const started = { gateway, client, redis };
    const base = `http://127.0.0.1:${httpPort}`;
    const stack: Stack = {
      dir,
      base,
      redis,
      gateway,
      settings,
      client,
      errorLog: () => readFileSync(started.gateway.errorLog, "utf8"),
      stop: async () => {
        await started.client.disconnect().catch(() => undefined);
        await started.gateway.stop();
        await started.redis.stop();
        rmSync(dir, { recursive: true, force: true });
      },
      restartRedis: async (downMs = 300, how: "kill" | "shutdown" = "kill") => {
        if (how === "shutdown") {
          // SHUTDOWN: Redis flushes its AOF and exits; nothing is killed mid-write
          spawnSync("redis-cli", ["-p", `${redisPort}`, "SHUTDOWN"], { stdio: "ignore" });
        } else {
          started.redis.process.kill("SIGKILL");
        }
        await new Promise((done) => started.redis.process.once("exit", done));
        await sleep(downMs);
        started.redis = await startRedis("127.0.0.1", redisPort, join(dir, "redis"), options.redisArgs ?? []);
        stack.redis = started.redis;
      },
      status: async () => {
        // with credentials on, /status is for the publisher key
        const headers: Record<string, string> = settings.publisherKey.length > 0 ? { Authorization: `Bearer ${settings.publisherKey}` } : {};
        return JSON.parse((await fetchText(`${base}/status`, { headers })).body) as GatewayStatus;
      },
    };
    return stack;
  } catch (e) {
    await client?.disconnect().catch(() => undefined);
    await gateway?.stop();
    await redis.stop();
    throw e;
  }
}

/** A gateway of its own beside a stack, or on a cluster or sentinels: stop() stops it and removes its directory. */
export interface OwnGateway {
  gateway: Gateway;
  base: string;
  dir: string;
  stop(): Promise<void>;
}

/** Starts a gateway on `redisUrl` (2 workers unless `settings` says otherwise) in a temporary directory of its own. */
export async function startGatewayOn(redisUrl: string, settings: Record<string, string> = {}): Promise<OwnGateway> {
  const dir = mkdtempSync(join(tmpdir(), "pushgate-test-"));
  const port = await freePort();
  const [parsed, err] = parseSettings({ listen: `127.0.0.1:${port}`, redisUrl, runtimeDir: dir, workers: "2", ...settings });
  if (parsed === undefined) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(err);
  }
  const gateway = await startGateway(parsed, "ignore");
  return {
    gateway,
    base: `http://127.0.0.1:${port}`,
    dir,
    stop: async () => {
      await gateway.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Lines of the error log that show a Lua runtime error or a worker crash. */
export function luaErrors(log: string): string[] {
  return log.split("\n").filter((line) => /lua entry thread aborted|runtime error|stack traceback|worker process \d+ exited on signal/.test(line));
}

/**
 * A stack for the tests of the enclosing describe: started before them, stopped after them, and
 * its error log checked for Lua errors then. Use it as a Stack inside the tests.
 */
export function useStack(options: StackOptions = {}): Stack {
  let started: Stack | undefined;
  beforeAll(async () => {
    started = await startStack(options);
  });
  afterAll(async () => {
    if (started === undefined) {
      return;
    }
    try {
      expect(luaErrors(started.errorLog())).toEqual([]);
    } finally {
      await started.stop();
    }
  });
  return new Proxy({} as Stack, {
    get(_target, name) {
      if (started === undefined) {
        throw new Error("the stack starts in beforeAll: use it inside a test");
      }
      const value: unknown = Reflect.get(started, name);
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(started) : value;
    },
  });
}

/** Runs `body` with a stack of its own, stopped afterwards whatever happens. */
export async function withStack<T>(options: StackOptions, body: (stack: Stack) => Promise<T>): Promise<T> {
  const stack = await startStack(options);
  try {
    return await body(stack);
  } finally {
    await stack.stop();
  }
}

/** A streaming HTTP response read with Node's http client. */
export class Stream {
  status = 0;
  headers: IncomingHttpHeaders = {};
  body = Buffer.alloc(0);
  ended = false;
  readonly done: Promise<void>;
  private readonly opened: Promise<void>;
  private destroy: () => void = () => undefined;

  constructor(url: string, headers: Record<string, string> = {}) {
    let markOpened: () => void = () => undefined;
    this.opened = new Promise((done) => (markOpened = done));
    this.done = new Promise((done, fail) => {
      const req = get(url, { headers, agent: false }, (res) => {
        this.status = res.statusCode ?? 0;
        this.headers = res.headers;
        markOpened();
        res.on("data", (chunk: Buffer) => (this.body = Buffer.concat([this.body, chunk])));
        res.on("end", () => {
          this.ended = true;
          done();
        });
        res.on("error", () => {
          this.ended = true;
          done();
        });
        res.on("close", () => {
          this.ended = true;
          done();
        });
      });
      req.on("error", (e) => {
        this.ended = true;
        markOpened();
        if ((e as NodeJS.ErrnoException).code === "ECONNRESET" || this.status !== 0) {
          done();
        } else {
          fail(e);
        }
      });
      this.destroy = () => req.destroy();
    });
    this.done.catch(() => undefined);
  }

  /** Waits for the status line and headers. */
  async open(): Promise<this> {
    await this.opened;
    return this;
  }

  text(): string {
    return this.body.toString("utf8");
  }

  /** The complete lines received so far, blank heartbeat lines included. */
  rawLines(): string[] {
    const text = this.text();
    const end = text.lastIndexOf("\n");
    return end < 0 ? [] : text.substring(0, end).split("\n");
  }

  /** The JSON lines received so far (heartbeats skipped). */
  messages(): unknown[] {
    return this.rawLines()
      .filter((line) => line.length > 0)
      .map((line) => JSON.parse(line) as unknown);
  }

  async waitForMessages(count: number, timeoutMs = 5000): Promise<unknown[]> {
    await eventually(() => this.messages().length >= count || this.ended, timeoutMs);
    return this.messages();
  }

  close(): void {
    this.destroy();
  }
}

export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One request, the whole answer. */
export function fetchText(url: string, init: { method?: string; body?: string | Buffer; headers?: Record<string, string> } = {}): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: init.method ?? "GET", headers: init.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
    });
    req.on("error", reject);
    if (init.body !== undefined) {
      req.write(init.body);
    }
    req.end();
  });
}

/** Runs curl with `args`: `current()` is its stdout so far, `output` all of it once it exits. */
export function curl(args: string[]): { process: ChildProcess; current: () => string; output: Promise<string> } {
  const child = spawn("curl", ["-sS", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString("utf8")));
  const output = new Promise<string>((done) => child.on("exit", () => done(out)));
  return { process: child, current: () => out, output };
}

/** Redis clients of the gateway: CLIENT LIST lines that are not our own node-redis client. */
export async function gatewayRedisClients(client: RedisClientType): Promise<string[]> {
  const list = await client.sendCommand(["CLIENT", "LIST"]);
  const own = await client.sendCommand(["CLIENT", "ID"]);
  return `${list}`.split("\n").filter((line) => line.startsWith("id=") && !line.startsWith(`id=${own} `));
}

/** Number of Redis subscriptions to `channel` (PUBSUB NUMSUB). */
export async function numsub(client: RedisClientType, channel: string): Promise<number> {
  const reply = (await client.sendCommand(["PUBSUB", "NUMSUB", channel])) as Array<string | number>;
  return Number(reply[1]);
}
