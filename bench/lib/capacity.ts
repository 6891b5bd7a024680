// Whether a run's sizes fit this machine, checked before anything starts: a configuration that
// cannot hold its streams is refused with what to change, instead of hanging or failing half-way
// through a long run. What bounds a run of many streams here (bench/README.md, "400,000 streams"):
//   - nginx: every stream is a connection of one worker; reuseport spreads new connections over the
//     workers by a hash, not evenly, so a worker's share is kept 10% below worker_connections (at
//     most 19,500 under the 20,000 open files a process may have), plus room for its Redis and
//     listening sockets;
//   - the load generator: one process holds at most --per-process sockets, under its file limit;
//   - ports: a source address gives each of its sockets its own port from ip_local_port_range;
//     the harness puts at most STREAMS_PER_SOURCE streams on one source address (127.0.x.y);
//   - the kernel's open files (both ends of every stream), its connection tracking table when
//     something uses it, and the memory (nginx, kernel sockets, load generator: about 30 KB per
//     stream here).

import { readFileSync } from "node:fs";
import type { WorkloadName, WorkloadOptions } from "./workloads";

/** Streams the harness opens from one source address: well below the ~28k ports each gives. */
export const STREAMS_PER_SOURCE = 8000;

/** Spare share of worker_connections per worker: reuseport's hash does not spread evenly. */
const WORKER_SPARE = 0.1;
/** Connections of a worker that are not streams: Redis (subscribe, commands), listening sockets, publishers. */
const WORKER_OVERHEAD = 64;
/** Memory per stream, all processes together (nginx ~16 KB, kernel sockets of both ends, load generator). */
const KB_PER_STREAM = 30;

export interface CapacityInput {
  workloads: WorkloadName[];
  workload: WorkloadOptions;
  workers: number;
  workerConnections: number;
  listenAddresses: number;
}

/** The most streams any chosen workload holds at once. */
export function largestStreams(input: CapacityInput): number {
  const o = input.workload;
  const sizes: Record<WorkloadName, number> = {
    idle: Math.max(...o.idleN) + input.workers * 8,
    fanout: o.fanoutSubscribers,
    many: o.manyChannels,
    storm: o.stormClients,
    publish: o.publishSubscribers + o.publishConnections,
  };
  return Math.max(0, ...input.workloads.map((name) => sizes[name]));
}

/** The worker count that holds `streams` at `workerConnections` per worker. */
export function workersFor(streams: number, workerConnections: number): number {
  return Math.ceil((streams * (1 + WORKER_SPARE)) / Math.max(1, workerConnections - WORKER_OVERHEAD));
}

function readNumbers(path: string): number[] | undefined {
  try {
    return readFileSync(path, "utf8").trim().split(/\s+/).map(Number);
  } catch {
    return undefined;
  }
}

/** This process's hard limit of open files (what the load generators it forks inherit). */
function openFilesLimit(): number | undefined {
  try {
    const match = /^Max open files\s+\S+\s+(\S+)/m.exec(readFileSync("/proc/self/limits", "utf8"));
    return match === null || match[1] === "unlimited" ? undefined : Number(match[1]);
  } catch {
    return undefined;
  }
}

function memAvailableKb(): number | undefined {
  try {
    const match = /^MemAvailable:\s+(\d+) kB/m.exec(readFileSync("/proc/meminfo", "utf8"));
    return match === null ? undefined : Number(match[1]);
  } catch {
    return undefined;
  }
}

const fmt = (n: number): string => Math.round(n).toLocaleString("en-US");

/** What makes the configuration impossible here, each with what to change; empty when it fits. */
export function capacityProblems(input: CapacityInput): string[] {
  const problems: string[] = [];
  const streams = largestStreams(input);
  const o = input.workload;

  const perWorker = Math.ceil((streams / input.workers) * (1 + WORKER_SPARE)) + WORKER_OVERHEAD;
  if (perWorker > input.workerConnections) {
    problems.push(
      `${fmt(streams)} streams on ${input.workers} nginx workers need worker_connections ≥ ${fmt(perWorker)} per worker ` +
        `(10% spare, as reuseport spreads connections unevenly, and ${WORKER_OVERHEAD} for Redis and listening sockets), ` +
        `but it is ${fmt(input.workerConnections)} (at most 19,500 under the 20,000 open files per process): ` +
        `use --workers ${workersFor(streams, Math.min(19000, input.workerConnections))}${input.workerConnections < 19000 ? " --worker-connections 19000" : ""}`,
    );
  }

  const files = openFilesLimit();
  if (files !== undefined && o.perProcess + 200 > files) {
    problems.push(
      `--per-process ${fmt(o.perProcess)} sockets do not fit a load generator's ${fmt(files)} open files (200 kept for the rest): use --per-process ${fmt(files - 200)}`,
    );
  }

  const range = readNumbers("/proc/sys/net/ipv4/ip_local_port_range");
  if (range !== undefined && range.length === 2) {
    const ports = range[1] - range[0] + 1;
    if (STREAMS_PER_SOURCE > ports * 0.9) {
      problems.push(
        `ip_local_port_range gives ${fmt(ports)} ports per source address, fewer than the ${fmt(STREAMS_PER_SOURCE)} streams the harness opens from one (plus 10%): widen it (sysctl net.ipv4.ip_local_port_range="1024 65000")`,
      );
    }
  }

  const fileMax = readNumbers("/proc/sys/fs/file-max");
  if (fileMax !== undefined && 2 * streams + 20000 > fileMax[0]) {
    problems.push(
      `${fmt(streams)} streams need ${fmt(2 * streams + 20000)} open files on the machine (both ends, and the rest), fs.file-max is ${fmt(fileMax[0])}`,
    );
  }

  // Connection tracking, when something uses it (its count is above 0), drops connections past its table.
  const trackMax = readNumbers("/proc/sys/net/netfilter/nf_conntrack_max");
  const tracked = readNumbers("/proc/sys/net/netfilter/nf_conntrack_count");
  if (trackMax !== undefined && tracked !== undefined && tracked[0] > 0 && streams + tracked[0] > trackMax[0]) {
    problems.push(
      `connection tracking is in use (${fmt(tracked[0])} entries) and holds at most ${fmt(trackMax[0])}: ${fmt(streams)} streams more would be dropped (sysctl net.netfilter.nf_conntrack_max=${fmt(2 * streams).replace(/,/g, "")})`,
    );
  }

  const available = memAvailableKb();
  if (available !== undefined && streams * KB_PER_STREAM > available) {
    problems.push(
      `${fmt(streams)} streams need about ${fmt((streams * KB_PER_STREAM) / 1048576)} GiB (~${KB_PER_STREAM} KB per stream over nginx, kernel sockets and the load generator), ` +
        `and ${fmt(available / 1048576)} GiB are available: use fewer clients`,
    );
  }
  return problems;
}
