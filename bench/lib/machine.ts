// What the machine is, and how much memory a set of processes holds. Memory is read from
// /proc/<pid>/smaps_rollup: RSS as the issue defines it, and PSS, which splits pages shared between
// processes (nginx's shared memory zones, code, copy-on-write pages of the master) among them, so a
// sum over nginx's master and workers counts each page once.

import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { cpus, getPriority, loadavg, totalmem } from "node:os";

export interface Memory {
  rssKb: number;
  pssKb: number;
  /** The PSS of private anonymous memory (heaps) and of shared memory (nginx zones). */
  pssAnonKb: number;
  pssShmemKb: number;
}

function rollup(pid: number): Memory {
  try {
    const text = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
    const field = (name: string): number => {
      const match = new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(text);
      return match === null ? 0 : Number(match[1]);
    };
    return { rssKb: field("Rss"), pssKb: field("Pss"), pssAnonKb: field("Pss_Anon"), pssShmemKb: field("Pss_Shmem") };
  } catch {
    return { rssKb: 0, pssKb: 0, pssAnonKb: 0, pssShmemKb: 0 }; // the process is gone
  }
}

/** `pid` and its children (nginx: the master and its workers). */
export function processTree(pid: number): number[] {
  const pids = [pid];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) {
      continue;
    }
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // pid (comm) state ppid …: comm may hold spaces, so read after the last ")".
      const ppid = Number(stat.substring(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) {
        pids.push(Number(entry));
      }
    } catch {
      // raced with an exiting process
    }
  }
  return pids;
}

export function memoryOf(pids: number[]): Memory {
  const total = { rssKb: 0, pssKb: 0, pssAnonKb: 0, pssShmemKb: 0 };
  for (const pid of pids) {
    const m = rollup(pid);
    total.rssKb += m.rssKb;
    total.pssKb += m.pssKb;
    total.pssAnonKb += m.pssAnonKb;
    total.pssShmemKb += m.pssShmemKb;
  }
  return total;
}

/** CPU time (user + system, seconds) of every process at one moment, and which are kernel threads. */
export interface CpuSnapshot {
  seconds: Map<number, number>;
  kernelThreads: Set<number>;
}

export function cpuSnapshot(): CpuSnapshot {
  const ticks = 100; // USER_HZ on Linux
  const snapshot: CpuSnapshot = { seconds: new Map(), kernelThreads: new Set() };
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) {
      continue;
    }
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // after "pid (comm) ": state, ppid, … utime and stime are the 12th and 13th fields
      const fields = stat.substring(stat.lastIndexOf(")") + 2).split(" ");
      const pid = Number(entry);
      snapshot.seconds.set(pid, (Number(fields[11]) + Number(fields[12])) / ticks);
      if (pid === 2 || fields[1] === "2") {
        snapshot.kernelThreads.add(pid);
      }
    } catch {
      // raced with an exiting process
    }
  }
  return snapshot;
}

/**
 * CPU seconds spent between two snapshots by each named group of pids, by kernel threads (softirq
 * work of loopback networking lands partly there) and by every other process ("others": work
 * that is not the benchmark's and skews it).
 */
export function cpuBetween(before: CpuSnapshot, after: CpuSnapshot, groups: Record<string, number[]>): Record<string, number> {
  const grouped = new Set<number>();
  const out: Record<string, number> = {};
  const spent = (pid: number): number => (after.seconds.get(pid) ?? 0) - (before.seconds.get(pid) ?? 0);
  for (const [name, pids] of Object.entries(groups)) {
    out[name] = 0;
    for (const pid of pids) {
      grouped.add(pid);
      out[name] += spent(pid);
    }
  }
  out.kernel = 0;
  out.others = 0;
  for (const pid of after.seconds.keys()) {
    if (!grouped.has(pid)) {
      out[after.kernelThreads.has(pid) ? "kernel" : "others"] += spent(pid);
    }
  }
  for (const key of Object.keys(out)) {
    out[key] = Math.round(out[key] * 100) / 100;
  }
  return out;
}

function run(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: "utf8" });
  return `${result.stdout ?? ""}${result.stderr ?? ""}`.trim();
}

export interface MachineInfo {
  date: string;
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  nginx: string;
  nginxPath: string;
  redis: string;
  nchan: string;
  node: string;
  openFilesLimit: string;
  commit: string;
  /** 1-minute load average when the run started: other work on the machine skews every figure. */
  loadAtStart: number;
  /** Niceness the run's processes had (below 0: favoured over other work on the machine). */
  niceness: number;
}

/** `measured`: the committed revision measured (--ref), else the checkout's HEAD and whether src/ differs. */
export function machineInfo(nginxPath: string, root: string, measured?: string): MachineInfo {
  const redis = /v=(\S+)/.exec(run("redis-server", ["--version"]));
  const commit = run("git", ["-C", root, "rev-parse", "--short", "HEAD"]);
  const dirty = run("git", ["-C", root, "status", "--porcelain", "--", "src", "nginx"]).length > 0;
  return {
    date: new Date().toISOString(),
    cpus: Number(run("nproc", [])) || cpus().length,
    cpuModel: cpus()[0]?.model ?? "unknown",
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: run("uname", ["-sr"]),
    nginx: run(nginxPath, ["-v"]).replace(/^nginx version:\s*/, ""),
    nginxPath,
    redis: redis !== null ? redis[1] : "unknown",
    nchan: run("dpkg-query", ["-W", "-f", "${Version}", "libnginx-mod-nchan"]) || "not installed",
    node: process.version,
    openFilesLimit: run("sh", ["-c", "ulimit -Hn"]),
    commit: measured ?? (dirty ? `${commit} with uncommitted changes in src/ or nginx/ (the working tree's build)` : commit),
    loadAtStart: Math.round(loadavg()[0] * 100) / 100,
    niceness: getPriority(),
  };
}
