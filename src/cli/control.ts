// `pushgate status|reload|stop` (npm run status|reload|stop): find the running launcher through
// its pid file in the runtime directory and act on it. Each returns the exit code: 0 done,
// 1 when no launcher runs there (or it did not do what was asked in time).

import { get } from "node:http";
import { resolve } from "node:path";
import type { GatewayStatus } from "../protocol/status";
import { childPids, findNginx } from "./gateway";
import { pidPath, readState, runningLauncher } from "./runtime-files";

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function notRunning(runtimeDir: string): number {
  console.error(`pushgate is not running (no live launcher named by ${pidPath(runtimeDir)})`);
  return 1;
}

/** GET url, its body when it answers 200 within `timeoutMs`; otherwise undefined and why. */
function fetchJson(url: string, timeoutMs = 2000): Promise<[string] | [undefined, string]> {
  return new Promise((done) => {
    const request = get(url, { timeout: timeoutMs }, (response) => {
      let body = "";
      response.on("data", (chunk: Buffer) => (body += chunk.toString()));
      response.on("end", () => done(response.statusCode === 200 ? [body] : [undefined, `status ${response.statusCode}: ${body.trim()}`]));
    });
    request.on("timeout", () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    request.on("error", (e) => done([undefined, e.message]));
  });
}

/** The nginx command that does `signal` (reload, reopen) to the running master, as an operator types it. */
export function nginxSignalCommand(runtimeDir: string, signal: string): string {
  return `${findNginx()} -p ${runtimeDir} -c nginx.conf -s ${signal}`;
}

/** Prints what runs: launcher, nginx master and workers, addresses, Redis, and GET /status of the gateway. */
export async function status(runtimeDir: string): Promise<number> {
  const pid = runningLauncher(runtimeDir);
  const state = readState(runtimeDir);
  if (pid === undefined || state === undefined) {
    return notRunning(runtimeDir);
  }
  const workers = childPids(state.nginxPid);
  const local = state.localRedis;
  const lines = [
    `pushgate is running (${state.phase}), runtime directory ${state.runtimeDir}`,
    `  launcher:   pid ${pid}, since ${state.startedAt}`,
    `  nginx:      ${state.nginxPid !== undefined ? `master pid ${state.nginxPid}, worker pids ${workers.join(" ")}` : "not started yet"}`,
    `  listening:  ${state.urls.join(" ")}`,
    `  redis:      ${state.redis.join(" ")}${local !== undefined ? ` (started by the launcher: pid ${local.pid}, data in ${local.dir}, appendfsync ${local.fsync})` : ""}`,
  ];
  if (state.phase === "ready") {
    const [body, err] = await fetchJson(`${state.urls[0]}/status`);
    if (body === undefined) {
      lines.push(`  gateway:    GET ${state.urls[0]}/status failed: ${err}`);
    } else {
      const answer = JSON.parse(body) as GatewayStatus;
      const connected = answer.workers.filter((w) => w.connected).length;
      const t = answer.totals;
      lines.push(
        `  gateway:    ${answer.mode} mode, ${answer.workers.length} workers reporting (${connected} connected to Redis), ` +
          `${t.subscribers ?? 0} subscribers, ${t.channels ?? 0} channels, ${t.messages ?? 0} messages delivered`,
      );
    }
    lines.push(`  nginx-level: ${nginxSignalCommand(state.runtimeDir, "reload")}`);
  }
  console.log(lines.join("\n"));
  return 0;
}

/** SIGHUP to the launcher, which reloads nginx; waits until nginx runs new workers. */
export async function reload(runtimeDir: string, timeoutMs = 15000): Promise<number> {
  const pid = runningLauncher(runtimeDir);
  const state = readState(runtimeDir);
  if (pid === undefined || state === undefined) {
    return notRunning(runtimeDir);
  }
  if (state.nginxPid === undefined) {
    console.error(`pushgate is not ready yet (${state.phase}): nothing to reload`);
    return 1;
  }
  const before = childPids(state.nginxPid);
  process.kill(pid, "SIGHUP");
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const now = childPids(state.nginxPid);
    if (now.some((worker) => !before.includes(worker))) {
      console.log(`pushgate reloaded: nginx master pid ${state.nginxPid} runs new workers (${now.filter((w) => !before.includes(w)).join(" ")})`);
      return 0;
    }
    await sleep(100);
  }
  console.error(`pushgate: nginx started no new workers within ${timeoutMs} ms: see ${resolve(state.runtimeDir, "logs/error.log")}`);
  return 1;
}

/** SIGTERM to the launcher, which stops nginx and the Redis it started; waits until it has exited. */
export async function stop(runtimeDir: string, timeoutMs = 30000): Promise<number> {
  const pid = runningLauncher(runtimeDir);
  if (pid === undefined) {
    return notRunning(runtimeDir);
  }
  process.kill(pid, "SIGTERM");
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!alive(pid)) {
      console.log(`pushgate stopped (launcher pid ${pid})`);
      return 0;
    }
    await sleep(100);
  }
  console.error(`pushgate: the launcher (pid ${pid}) has not exited within ${timeoutMs} ms`);
  return 1;
}
