// Runs the gateway: renders nginx.conf from the settings, starts nginx, waits until it answers,
// and stops it (the process helpers and redis-server live in processes.ts). Used by `npm start`,
// the tests and bench.

import "./multi";
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, resolve } from "node:path";
import { Settings, toRaw } from "../config/schema";
import { ChildOptions, httpAnswers, stopChild, waitFor } from "./processes";

// What tests and bench take from here as well (one import for the gateway and its processes).
export { childPids, freePort, groupAlive, redisAnswers, startRedis, stopChild, stopGroup } from "./processes";
export type { ChildOptions, RedisServer } from "./processes";

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
