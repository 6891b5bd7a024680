// Starts Nchan (Debian's libnginx-mod-nchan) on the same nginx binary as Pushgate, from
// bench/nchan.conf, with either its memory store or Redis storage.

import { ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { ROOT, stopChild } from "../../src/cli/gateway";
import { HttpPublisher } from "./http-publisher";
import { Target } from "./protocol";

export const NCHAN_MODULE = "/usr/lib/nginx/modules/ngx_nchan_module.so";
const TEMPLATE = resolve(ROOT, "bench/nchan.conf");

export interface NchanOptions {
  nginx: string;
  runtimeDir: string;
  listen: Target[];
  workers: number;
  workerConnections: number;
  workerRlimitNofile: number;
  /** Redis storage when given, else the memory store. */
  redisUrl?: string;
  sharedMemory: string;
  logLevel: string;
}

export interface NchanServer {
  process: ChildProcess;
  errorLog: string;
  stop(): Promise<void>;
}

function render(options: NchanOptions): string {
  const values: Record<string, string> = {
    nchan_module: NCHAN_MODULE,
    workers: `${options.workers}`,
    worker_rlimit_nofile: `${options.workerRlimitNofile}`,
    worker_connections: `${options.workerConnections}`,
    runtime_dir: options.runtimeDir,
    log_level: options.logLevel,
    shared_memory: options.sharedMemory,
    listen_directives: options.listen.map((t) => `        listen ${t.host}:${t.port} reuseport backlog=4096;`).join("\n"),
    redis_upstream: options.redisUrl !== undefined ? `    upstream bench_redis {\n        nchan_redis_server ${options.redisUrl};\n    }` : "",
    redis_pass: options.redisUrl !== undefined ? "            nchan_redis_pass bench_redis;" : "",
  };
  return readFileSync(TEMPLATE, "utf8").replace(/\{\{(\w+)\}\}/g, (whole, name: string) => {
    const value = values[name];
    if (value === undefined) {
      throw new Error(`bench/nchan.conf names an unknown placeholder ${whole}`);
    }
    return value;
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

/** Why Nchan cannot run here, or undefined when it can. */
export function nchanUnavailable(): string | undefined {
  if (!existsSync(NCHAN_MODULE)) {
    return `${NCHAN_MODULE} is missing: apt-get update && apt-get install libnginx-mod-nchan`;
  }
  return undefined;
}

/** Starts nginx with Nchan and waits until a publish is accepted (Redis connected, if used). */
export async function startNchan(options: NchanOptions): Promise<NchanServer> {
  for (const sub of ["logs", "tmp"]) {
    mkdirSync(resolve(options.runtimeDir, sub), { recursive: true });
  }
  const confPath = resolve(options.runtimeDir, "nginx.conf");
  writeFileSync(confPath, render(options));
  const test = spawnSync(options.nginx, ["-t", "-q", "-p", options.runtimeDir, "-c", confPath], { encoding: "utf8" });
  if (test.status !== 0) {
    throw new Error(`nginx rejected ${confPath}: ${test.stderr.trim()}`);
  }
  const child = spawn(options.nginx, ["-p", options.runtimeDir, "-c", confPath], { stdio: ["ignore", "ignore", "ignore"] });
  const server: NchanServer = {
    process: child,
    errorLog: resolve(options.runtimeDir, "logs/error.log"),
    stop: () => stopChild(child, "SIGQUIT", 15000),
  };
  const deadline = Date.now() + 15000;
  let last = "no answer";
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`nchan's nginx exited with code ${child.exitCode} before it was ready`);
    }
    try {
      const publisher = await HttpPublisher.open(options.listen[0], 1);
      const statuses = await publisher.send([{ path: "/pub/bench-ready", body: "ready" }]);
      publisher.close();
      if ((statuses["201"] ?? 0) + (statuses["202"] ?? 0) > 0) {
        return server;
      }
      last = `publish answered ${JSON.stringify(statuses)}`;
    } catch (e) {
      last = (e as Error).message;
    }
    await sleep(100);
  }
  await server.stop();
  throw new Error(`nchan did not accept a publish within 15 s (${last})`);
}
