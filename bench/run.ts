// `npm run bench [-- options]`: runs every workload against every setup, one fresh server (nginx and
// Redis) per workload, and writes bench/results/<name>.{md,svg,json}. See bench/README.md.

import "../src/cli/multi";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { findNginx, ROOT } from "../src/cli/gateway";
import { AddressPool } from "./lib/fleet";
import { machineInfo } from "./lib/machine";
import { MAX_SOCKETS_PER_PROCESS } from "./lib/protocol";
import { renderMarkdown, renderSvg, RunResults, SetupResult } from "./lib/report";
import { NotAvailable, PROFILE_SETUP_NAMES, Server, ServerOptions, SETUP_NAMES, SetupName, startServer } from "./lib/setups";
import { Context, fanout, idle, many, storm, WORKLOAD_NAMES, WorkloadName, WorkloadOptions } from "./lib/workloads";

const USAGE = `usage: npm run bench -- [options]
  --quick                     smoke run: N = 2k,5k, 2,000 clients per workload, short bursts
  --setups a,b                ${SETUP_NAMES.join(", ")} (default: these four),
                              and the profile setup ${PROFILE_SETUP_NAMES.join(", ")} (idle only)
  --workloads a,b             ${WORKLOAD_NAMES.join(", ")} (default: all)
  --n 10000,50000,100000      idle streams at which memory is measured
  --idle-per-channel 1        idle streams per channel (1: each stream its own channel)
  --clients 10000             subscribers for fanout, channels for many, clients for storm
  --burst 100                 fan-out burst size (messages)
  --paced-rate 10             fan-out paced messages per second ...
  --paced-seconds 5           ... for this long
  --payload-bytes 64          message size
  --workers 6                 nginx workers (every setup)
  --worker-connections 19000  nginx worker_connections (every setup)
  --listen-addresses 1        nginx listens on 127.0.0.1, 127.1.0.1, ... (clients spread over them)
  --per-process 16000         sockets per load-generator process (at most ${MAX_SOCKETS_PER_PROCESS})
  --concurrency 250           connection attempts in flight per load-generator process
  --pushgate-publish redis    how Pushgate gets its messages: redis (PUBLISH) or http (POST /pub)
  --out NAME                  results file name (default: the date, "-quick" appended for --quick)
  --render FILE.json          only re-render the .md and .svg from a saved .json
  --keep                      keep the runtime directories (nginx configs and logs)`;

interface Options {
  setups: SetupName[];
  workloads: WorkloadName[];
  workload: WorkloadOptions;
  workers: number;
  workerConnections: number;
  listenAddresses: number;
  pushgatePublish: "redis" | "http";
  out: string;
  render?: string;
  keep: boolean;
}

function parseArgs(argv: string[]): Options {
  const quick = argv.includes("--quick");
  const values = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--quick" || arg === "--keep") {
      continue;
    }
    if (arg === "--help" || arg === "-h") {
      console.log(USAGE);
      process.exit(0);
    }
    if (!arg.startsWith("--") || i + 1 >= argv.length) {
      throw new Error(`unknown or incomplete option "${arg}"\n${USAGE}`);
    }
    values.set(arg.substring(2), argv[++i]);
  }
  const known = ["setups", "workloads", "n", "idle-per-channel", "clients", "burst", "paced-rate", "paced-seconds", "payload-bytes", "workers", "worker-connections", "listen-addresses", "per-process", "concurrency", "pushgate-publish", "out", "render"];
  for (const key of values.keys()) {
    if (!known.includes(key)) {
      throw new Error(`unknown option --${key}\n${USAGE}`);
    }
  }
  const number = (key: string, fallback: number, min: number, max: number): number => {
    const raw = values.get(key);
    const n = raw === undefined ? fallback : Number(raw);
    if (!Number.isFinite(n) || n < min || n > max) {
      throw new Error(`--${key} must be a number from ${min} to ${max}, got "${raw}"`);
    }
    return n;
  };
  const list = <T extends string>(key: string, all: T[], extra: T[] = []): T[] => {
    const raw = values.get(key);
    if (raw === undefined) {
      return all;
    }
    all = [...all, ...extra];
    const picked = raw.split(",").map((s) => s.trim()) as T[];
    for (const item of picked) {
      if (!all.includes(item)) {
        throw new Error(`--${key}: "${item}" is not one of ${all.join(", ")}`);
      }
    }
    return picked;
  };
  const idleN = (values.get("n") ?? (quick ? "2000,5000" : "10000,50000,100000")).split(",").map(Number);
  if (idleN.some((n) => !Number.isInteger(n) || n < 1 || n > 1000000)) {
    throw new Error(`--n must be a comma list of integers from 1 to 1000000`);
  }
  const clients = number("clients", quick ? 2000 : 10000, 1, 200000);
  const publish = values.get("pushgate-publish") ?? "redis";
  if (publish !== "redis" && publish !== "http") {
    throw new Error(`--pushgate-publish must be redis or http`);
  }
  const date = new Date().toISOString().substring(0, 10);
  return {
    setups: list("setups", SETUP_NAMES, PROFILE_SETUP_NAMES),
    workloads: list("workloads", WORKLOAD_NAMES),
    workload: {
      idleN,
      idleStreamsPerChannel: number("idle-per-channel", 1, 1, 1000000),
      fanoutSubscribers: clients,
      burstMessages: number("burst", quick ? 20 : 100, 1, 10000),
      pacedRate: number("paced-rate", 10, 0.1, 1000),
      pacedSeconds: number("paced-seconds", quick ? 2 : 5, 0.1, 600),
      manyChannels: clients,
      stormClients: clients,
      payloadBytes: number("payload-bytes", 64, 1, 1000000),
      perProcess: number("per-process", 16000, 100, MAX_SOCKETS_PER_PROCESS),
      connectConcurrency: number("concurrency", 250, 1, 10000),
      settleMs: quick ? 1000 : 2000,
    },
    workers: number("workers", 6, 1, 64),
    workerConnections: number("worker-connections", 19000, 64, 19500),
    listenAddresses: number("listen-addresses", 1, 1, 16),
    pushgatePublish: publish,
    out: values.get("out") ?? (quick ? `${date}-quick` : date),
    render: values.get("render"),
    keep: argv.includes("--keep"),
  };
}

function log(message: string): void {
  console.error(`[bench ${new Date().toISOString().substring(11, 19)}] ${message}`);
}

/** The server running now, stopped on Ctrl-C. */
let running: Server | undefined;

async function runWorkload(name: WorkloadName, context: Context, result: SetupResult): Promise<void> {
  switch (name) {
    case "idle":
      result.idle = await idle(context);
      return;
    case "fanout":
      result.fanout = await fanout(context);
      return;
    case "many":
      result.many = await many(context);
      return;
    case "storm":
      result.storm = await storm(context);
      return;
  }
}

async function runSetup(name: SetupName, options: Options, nginx: string, baseDir: string, addresses: AddressPool): Promise<SetupResult> {
  const result: SetupResult = { name, errors: {} };
  for (const workload of options.workloads) {
    if (PROFILE_SETUP_NAMES.includes(name) && workload !== "idle") {
      continue; // a profile setup only holds streams
    }
    const serverOptions: ServerOptions = {
      nginx,
      dir: mkdtempSync(join(baseDir, `${name}-${workload}-`)),
      workers: options.workers,
      workerConnections: options.workerConnections,
      workerRlimitNofile: 20000,
      listenAddresses: options.listenAddresses,
      pushgatePublish: options.pushgatePublish,
      nchanSharedMemory: "512m",
      logLevel: "warn",
    };
    let server: Server;
    try {
      log(`${name}: starting for ${workload}`);
      server = await startServer(name, serverOptions);
    } catch (e) {
      if (e instanceof NotAvailable) {
        log(`${name}: not available: ${e.message}`);
        result.notAvailable = e.message;
        return result;
      }
      result.errors[workload] = `failed to start: ${(e as Error).message}`;
      log(`${name}: ${result.errors[workload]}`);
      continue;
    }
    running = server;
    result.publishVia = server.publishVia;
    result.redisMaxClients = server.redisMaxClients;
    const context: Context = { server, addresses, options: options.workload, workers: options.workers, log: (m) => log(`${name}: ${m}`) };
    try {
      await runWorkload(workload, context, result);
    } catch (e) {
      result.errors[workload] = (e as Error).message;
      log(`${name}: ${workload} failed: ${(e as Error).stack ?? e}`);
    } finally {
      await server.stop();
      running = undefined;
    }
  }
  return result;
}

function write(results: RunResults, out: string): void {
  const dir = resolve(ROOT, "bench/results");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${out}.json`), `${JSON.stringify(results, null, 1)}\n`);
  writeFileSync(join(dir, `${out}.svg`), renderSvg(results));
  writeFileSync(join(dir, `${out}.md`), renderMarkdown(results, `${out}.svg`));
  log(`wrote bench/results/${out}.md, .svg and .json`);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const options = parseArgs(argv);
  if (options.render !== undefined) {
    const results = JSON.parse(readFileSync(options.render, "utf8")) as RunResults;
    write(results, options.out);
    return;
  }
  const nginx = findNginx();
  const baseDir = mkdtempSync(join(tmpdir(), "pushgate-bench-"));
  const addresses = new AddressPool();
  const started = Date.now();
  const results: RunResults = {
    command: `npm run bench${argv.length > 0 ? ` -- ${argv.join(" ")}` : ""}`,
    machine: machineInfo(nginx, ROOT),
    settings: {
      workers: options.workers,
      workerConnections: options.workerConnections,
      workerRlimitNofile: 20000,
      listenAddresses: options.listenAddresses,
      perProcess: options.workload.perProcess,
      payloadBytes: options.workload.payloadBytes,
      idleStreamsPerChannel: options.workload.idleStreamsPerChannel,
    },
    seconds: 0,
    setups: [],
  };
  const stop = (): void => {
    log("interrupted: stopping the running server");
    void (running?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  try {
    for (const name of options.setups) {
      results.setups.push(await runSetup(name, options, nginx, baseDir, addresses));
      results.seconds = (Date.now() - started) / 1000;
      write(results, options.out); // partial results survive a later failure
    }
  } finally {
    if (!options.keep) {
      rmSync(baseDir, { recursive: true, force: true });
    } else {
      log(`runtime directories kept in ${baseDir}`);
    }
  }
}

if (require.main === module) {
  main().catch((e: Error) => {
    console.error(`bench: ${e.message}`);
    process.exit(1);
  });
}
