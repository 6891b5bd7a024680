// The launcher's files in the runtime directory: `pushgate.pid` (its pid, for `pushgate
// reload|stop|status` and kill) and `pushgate.json` (what it runs: nginx, Redis, addresses).
// Both exist while a launcher runs and are removed when it exits.

import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";

/** What a running launcher tells `pushgate status`. */
export interface LauncherState {
  pid: number;
  /** "waiting for redis" until Redis answers, then "ready". */
  phase: string;
  nginxPid?: number;
  /** nginx.conf and the prefix to give nginx -s (reload, reopen). */
  confPath?: string;
  runtimeDir: string;
  /** Where a client on this machine reaches the gateway (http://host:port). */
  urls: string[];
  /** The Redis the gateway uses, without password. */
  redis: string[];
  /** Set when the launcher started that Redis. */
  localRedis?: { pid: number; dir: string; fsync: string };
  startedAt: string;
}

export function pidPath(runtimeDir: string): string {
  return resolve(runtimeDir, "pushgate.pid");
}

export function statePath(runtimeDir: string): string {
  return resolve(runtimeDir, "pushgate.json");
}

export function writeState(state: LauncherState): void {
  writeFileSync(statePath(state.runtimeDir), `${JSON.stringify(state, null, 2)}\n`);
}

export function writePid(runtimeDir: string, pid: number): void {
  writeFileSync(pidPath(runtimeDir), `${pid}\n`);
}

/** Removes both files, but only if the pid file still names `pid` (another launcher may own them). */
export function removeFiles(runtimeDir: string, pid: number): void {
  if (readPid(runtimeDir) === pid) {
    rmSync(pidPath(runtimeDir), { force: true });
    rmSync(statePath(runtimeDir), { force: true });
  }
}

export function readPid(runtimeDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(pidPath(runtimeDir), "utf8").trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function readState(runtimeDir: string): LauncherState | undefined {
  try {
    return JSON.parse(readFileSync(statePath(runtimeDir), "utf8")) as LauncherState;
  } catch {
    return undefined;
  }
}

/** True when `pid` is a live Pushgate launcher (not a stale pid file's number reused by another program). */
export function isLauncher(pid: number): boolean {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    return cmdline.some((arg) => arg.endsWith("cli/start.js") || arg.endsWith("cli/pushgate.js"));
  } catch {
    return false;
  }
}

/** The pid of the launcher running with `runtimeDir`, or undefined (no pid file, or a stale one). */
export function runningLauncher(runtimeDir: string): number | undefined {
  const pid = readPid(runtimeDir);
  return pid !== undefined && isLauncher(pid) ? pid : undefined;
}

/** True when `pid` runs a program whose command line contains `name` (nginx, redis-server). */
function runs(pid: number, name: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(name);
  } catch {
    return false;
  }
}

/**
 * What a launcher that died without cleaning up (SIGKILL) left running, from its pushgate.json:
 * the process groups of its nginx master and of the Redis it started, while they still run them.
 */
export function leftovers(runtimeDir: string): Array<{ what: string; pid: number }> {
  const state = readState(runtimeDir);
  if (state === undefined || runningLauncher(runtimeDir) !== undefined) {
    return [];
  }
  const found: Array<{ what: string; pid: number }> = [];
  if (state.nginxPid !== undefined && runs(state.nginxPid, "nginx")) {
    found.push({ what: "nginx", pid: state.nginxPid });
  }
  if (state.localRedis !== undefined && runs(state.localRedis.pid, "redis-server")) {
    found.push({ what: "Redis", pid: state.localRedis.pid });
  }
  return found;
}
