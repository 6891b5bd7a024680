// Runs the gateway's processes: renders nginx.conf from the settings, starts nginx (and a Redis
// when asked), waits until they answer, and stops them. Used by `npm start`, the tests and bench.

import "./multi";
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { basename, resolve } from "node:path";
import { Settings, toRaw } from "../config/schema";
import { clientAddress, hostAndPort } from "./addresses";

export const ROOT = resolve(__dirname, "../../..");
const TEMPLATE = resolve(ROOT, "nginx/nginx.conf");
const DEBIAN_MODULES = "/usr/lib/nginx/modules";

/** The nginx binary: $PUSHGATE_NGINX, else openresty or nginx from the PATH or /usr/sbin. */
export function findNginx(): string {
  const given = process.env.PUSHGATE_NGINX;
  if (given !== undefined && given.length > 0) {
    return given;
  }
  for (const candidate of ["openresty", "nginx", "/usr/sbin/nginx", "/usr/local/openresty/bin/openresty"]) {
    const found = spawnSync("sh", ["-c", `command -v ${candidate}`], { encoding: "utf8" });
    if (found.status === 0 && found.stdout.trim().length > 0) {
      return found.stdout.trim();
    }
  }
  throw new Error("nginx not found: install nginx and libnginx-mod-http-lua, or set PUSHGATE_NGINX");
}

/** load_module lines for Debian's dynamic Lua module; empty when the Lua module is built in. */
function loadModuleLines(nginx: string): string {
  if (basename(nginx).startsWith("openresty")) {
    return ""; // OpenResty builds the Lua module in
  }
  const version = spawnSync(nginx, ["-V"], { encoding: "utf8" });
  const built = `${version.stdout}${version.stderr}`;
  if (built.includes("lua-nginx-module") && !built.includes("--add-dynamic-module")) {
    return "";
  }
  const ndk = `${DEBIAN_MODULES}/ndk_http_module.so`;
  const lua = `${DEBIAN_MODULES}/ngx_http_lua_module.so`;
  if (!existsSync(lua)) {
    return "";
  }
  return [`load_module ${ndk};`, `load_module ${lua};`].join("\n");
}

/** The settings as the JSON object nginx's init_by_lua validates (keys as in a config file). */
function settingsJson(settings: Settings): string {
  return JSON.stringify(toRaw(settings), null, 2);
}

export function renderConfig(settings: Settings, nginx: string): string {
  const runtimeDir = resolve(settings.runtimeDir);
  const listen = settings.listen.map((address) => `        listen ${address} reuseport backlog=4096;`);
  const values: Record<string, string> = {
    load_modules: loadModuleLines(nginx),
    workers: settings.workers,
    worker_rlimit_nofile: `${settings.workerRlimitNofile}`,
    worker_connections: `${settings.workerConnections}`,
    runtime_dir: runtimeDir,
    log_level: settings.logLevel,
    lua_path: `${resolve(ROOT, "dist")}/?.lua`,
    demo_dir: resolve(ROOT, "demo"),
    admin_dir: resolve(ROOT, "admin"),
    client_dir: resolve(ROOT, "client/dist"),
    settings_json: settingsJson(settings),
    listen_directives: listen.join("\n"),
    max_message_bytes: `${settings.maxMessageBytes}`,
    // backend auth: without PUSHGATE_AUTH_URL no subrequest is made; port 9 (discard) keeps the location valid
    auth_url: settings.authUrl.length > 0 ? settings.authUrl : "http://127.0.0.1:9",
    auth_timeout: `${settings.authTimeoutMs}ms`,
    // one buffer larger than the largest body: a chunked body of exactly the limit stays in memory
    body_buffer_bytes: `${settings.maxMessageBytes + 1024}`,
  };
  return readFileSync(TEMPLATE, "utf8").replace(/\{\{(\w+)\}\}/g, (whole, name: string) => {
    const value = values[name];
    if (value === undefined) {
      throw new Error(`nginx/nginx.conf names an unknown placeholder ${whole}`);
    }
    return value;
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

/** A TCP port nothing listens on at `host` right now (the kernel picks it). */
export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((done, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => done(typeof address === "object" && address !== null ? address.port : 0));
    });
  });
}

/** True when a Redis answers PING at host:port within `timeoutMs`. */
export function redisAnswers(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host, port });
    let answer = "";
    const finish = (ok: boolean): void => {
      socket.destroy();
      done(ok);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.on("error", () => finish(false));
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (chunk) => {
      answer += chunk.toString("latin1");
      if (answer.includes("\r\n")) {
        finish(answer.startsWith("+PONG") || answer.startsWith("-NOAUTH"));
      }
    });
  });
}

async function waitFor(what: string, check: () => Promise<boolean>, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`${what} exited with code ${child.exitCode} before it was ready`);
    }
    if (await check()) {
      return;
    }
    await sleep(50);
  }
  throw new Error(`${what} did not become ready within ${timeoutMs} ms`);
}

function httpAnswers(listen: string): Promise<boolean> {
  const { host, port } = hostAndPort(clientAddress(listen));
  return new Promise((done) => {
    const socket = connect({ host, port });
    let answer = "";
    socket.setTimeout(500, () => {
      socket.destroy();
      done(false);
    });
    socket.on("error", () => done(false));
    socket.on("connect", () => socket.write("GET /livez HTTP/1.0\r\n\r\n"));
    socket.on("data", (chunk) => (answer += chunk.toString()));
    socket.on("close", () => done(answer.startsWith("HTTP/1.1 200")));
  });
}

/** The pids of a process's children (nginx: its workers), from /proc. */
export function childPids(pid: number | undefined): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8")
      .trim()
      .split(/\s+/)
      .filter((p) => p.length > 0)
      .map(Number);
  } catch {
    return [];
  }
}

/** True while a process of the group `pgid` exists (a child started with `detached` leads its own group). */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Ends what is left of the process group a detached child led (nginx workers whose master died):
 * SIGTERM, then SIGKILL if any is still there after `graceMs`.
 */
export async function stopGroup(pgid: number, graceMs = 3000): Promise<void> {
  const signal = (name: NodeJS.Signals): void => {
    try {
      process.kill(-pgid, name);
    } catch {
      // the group is empty
    }
  };
  signal("SIGTERM");
  const deadline = Date.now() + graceMs;
  while (groupAlive(pgid) && Date.now() < deadline) {
    await sleep(50);
  }
  signal("SIGKILL");
}

/**
 * Stops a child: `signal` first, SIGKILL if it has not exited after `graceMs` — its own children
 * too, so a master killed hard leaves no worker behind.
 */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals = "SIGTERM", graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return;
  }
  const exited = new Promise<void>((done) => child.once("exit", () => done()));
  child.kill(signal);
  const timer = setTimeout(() => {
    const orphans = childPids(child.pid);
    child.kill("SIGKILL");
    for (const pid of orphans) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }, graceMs);
  await exited;
  clearTimeout(timer);
}

export interface RedisServer {
  process: ChildProcess;
  host: string;
  port: number;
  url: string;
  stop(): Promise<void>;
}

export interface ChildOptions {
  /**
   * Run the child in its own process group (the launcher does): a Ctrl-C in the terminal reaches
   * only the launcher, which stops the child in order, and the group outlives a killed leader so
   * its leftovers can be found and stopped.
   */
  ownGroup?: boolean;
}

/**
 * Starts redis-server on host:port with its files in `dir`; `extraArgs` are redis-server options
 * (later ones win: `--appendonly yes` turns on the append-only file the defaults leave off).
 */
export async function startRedis(host: string, port: number, dir: string, extraArgs: string[] = [], options: ChildOptions = {}): Promise<RedisServer> {
  mkdirSync(dir, { recursive: true });
  // Protected mode would refuse connections from 127.0.0.2 and the like (source addresses);
  // a Redis bound to a loopback address is out of other hosts' reach anyway.
  const loopbackOnly = host.startsWith("127.") ? ["--protected-mode", "no"] : [];
  const args = [
    ...loopbackOnly,
    "--bind",
    host,
    "--port",
    `${port}`,
    "--dir",
    dir,
    "--save",
    "",
    "--appendonly",
    "no",
    "--daemonize",
    "no",
    "--logfile",
    "",
    "--maxclients",
    "100000",
    ...extraArgs,
  ];
  const child = spawn("redis-server", args, { stdio: ["ignore", "ignore", "inherit"], detached: options.ownGroup === true });
  await waitFor(`redis-server on ${host}:${port}`, () => redisAnswers(host, port), child, 10000);
  return {
    process: child,
    host,
    port,
    url: `redis://${host}:${port}/0`,
    stop: () => stopChild(child, "SIGTERM"),
  };
}

export interface Gateway {
  process: ChildProcess;
  settings: Settings;
  confPath: string;
  errorLog: string;
  /** Graceful stop (SIGQUIT: open streams are told to reconnect), SIGKILL after the grace time. */
  stop(): Promise<void>;
  /** nginx -s reload: new workers with the same config; old ones end their streams. */
  reload(): void;
}

/** Renders nginx.conf into the runtime dir, starts nginx in the foreground, waits until it answers. */
export async function startGateway(settings: Settings, stdio: "inherit" | "ignore" = "inherit", options: ChildOptions = {}): Promise<Gateway> {
  const nginx = findNginx();
  const runtimeDir = resolve(settings.runtimeDir);
  for (const sub of ["logs", "tmp"]) {
    mkdirSync(resolve(runtimeDir, sub), { recursive: true });
  }
  const confPath = resolve(runtimeDir, "nginx.conf");
  // mode 0600: the rendered settings may hold secrets (jwtSecret, publisherKey)
  writeFileSync(confPath, renderConfig(settings, nginx), { mode: 0o600 });
  const test = spawnSync(nginx, ["-t", "-q", "-p", runtimeDir, "-c", confPath], { encoding: "utf8" });
  if (test.status !== 0) {
    throw new Error(`nginx rejected ${confPath}:\n${test.stderr}`);
  }
  const child = spawn(nginx, ["-p", runtimeDir, "-c", confPath], { stdio: ["ignore", stdio, stdio], detached: options.ownGroup === true });
  await waitFor("nginx", () => httpAnswers(settings.listen[0]), child, 10000);
  return {
    process: child,
    settings,
    confPath,
    errorLog: resolve(runtimeDir, "logs/error.log"),
    stop: () => stopChild(child, "SIGQUIT", 15000),
    reload: () => {
      child.kill("SIGHUP");
    },
  };
}
