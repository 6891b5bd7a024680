// `npm run bench [-- options]`: runs every workload against every setup, one fresh server (nginx and
// Redis) per workload, and writes bench/results/<name>.{md,svg,json}. See bench/README.md.

import "../src/cli/multi";
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { getPriority, setPriority, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { findNginx, ROOT } from "../src/cli/gateway";
import { AddressPool } from "./lib/fleet";
import { cpuBetween, cpuSnapshot, machineInfo } from "./lib/machine";
import { MAX_SOCKETS_PER_PROCESS } from "./lib/protocol";
import { readmeBlock, renderMarkdown, renderSvg, RunResults, SetupResult, withReadmeBlock } from "./lib/report";
import { capacityProblems } from "./lib/capacity";
import { NotAvailable, PROFILE_SETUP_NAMES, SAME_SERVER_AS, Server, ServerOptions, SETUP_NAMES, SetupName, startServer } from "./lib/setups";
import { Context, fanout, idle, many, publish, publishFailures, storm, WORKLOAD_NAMES, WorkloadName, WorkloadOptions } from "./lib/workloads";

const USAGE = `usage: npm run bench -- [options]
  --quick                     smoke run: N = 2k,5k, 2,000 clients per workload, short bursts
  --setups a,b                ${SETUP_NAMES.join(", ")} (default: these six),
                              and the profile setups ${PROFILE_SETUP_NAMES.join(", ")} (idle only)
  --workloads a,b             ${WORKLOAD_NAMES.join(", ")} (default: all)
  --n 10000,50000,100000      idle streams at which memory is measured
  --idle-per-channel 1        idle streams per channel (1: each stream its own channel)
  --clients 10000             subscribers for fanout, channels for many, clients for storm
                              (up to 1,000,000: see bench/README.md for 400,000 streams)
  --burst 100                 fan-out burst size (messages)
  --paced-rate 10             fan-out paced messages per second ...
  --paced-seconds 5           ... for this long
  --publish-count 50000       publish workload: publishes per setup ...
  --publish-connections 50    ... over this many keep-alive connections (one in flight each) ...
  --publish-subscribers 100   ... to one channel with this many subscribers ...
  --publish-seconds 60        ... stopping at this time bound if the count is not reached
  --payload-bytes 64          message size
  --nchan-buffer 1000         messages Nchan keeps per channel (nchan_message_buffer_length; Nchan's
                              default is 10, Pushgate's history keeps 1000)
  --workers 6                 nginx workers (every setup)
  --worker-connections 19000  nginx worker_connections (every setup)
  --listen-addresses 1        nginx listens on 127.0.0.1, 127.1.0.1, ... (clients spread over them)
  --per-process 16000         sockets per load-generator process (at most ${MAX_SOCKETS_PER_PROCESS})
  --concurrency 500           connection attempts in flight over all load-generator processes
  --open-ms-per-stream 10     a load-generator process gives up opening its streams after 30 s + this
                              many ms per stream (the streams not open by then count as timeouts)
  --ramp-chunk 10000          the idle workload opens at most this many streams at a time
  --out NAME                  results file name (default: the date, "-quick" appended for --quick)
  --ref REV                   measure the committed revision REV (extracted and built apart;
                              default: the working tree's current build/ and dist/)
  --render FILE.json          only re-render the .md and .svg from a saved .json
  --quiet-wait 120            before each workload, wait up to this many seconds until other
                              processes use < 10% of a CPU (0: do not wait)
  --quiet-cpu 0.1             ... "quiet": other processes use fewer CPUs than this
  --nice -10                  niceness of the run and everything it starts (root may go below 0)
  --keep                      keep the runtime directories (nginx configs and logs)
  --readme                    also write the summary and ratio tables into README.md (between its
                              bench-table markers); with --render, from a saved run`;

interface Options {
  setups: SetupName[];
  workloads: WorkloadName[];
  workload: WorkloadOptions;
  workers: number;
  workerConnections: number;
  listenAddresses: number;
  nchanBuffer: number;
  out: string;
  render?: string;
  ref?: string;
  quietWait: number;
  quietCpu: number;
  nice: number;
  keep: boolean;
  readme: boolean;
}

function parseArgs(argv: string[]): Options {
  const quick = argv.includes("--quick");
  const values = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--quick" || arg === "--keep" || arg === "--readme") {
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
  const known = [
    "setups",
    "workloads",
    "n",
    "idle-per-channel",
    "clients",
    "burst",
    "paced-rate",
    "paced-seconds",
    "payload-bytes",
    "workers",
    "worker-connections",
    "listen-addresses",
    "per-process",
    "concurrency",
    "open-ms-per-stream",
    "ramp-chunk",
    "publish-count",
    "publish-connections",
    "publish-subscribers",
    "publish-seconds",
    "nchan-buffer",
    "out",
    "render",
    "ref",
    "quiet-wait",
    "quiet-cpu",
    "nice",
  ];
  for (const key of values.keys()) {
    if (key === "pushgate-publish") {
      throw new Error(
        "--pushgate-publish is gone: the publish way is part of the setup now (pushgate-shared: PUBLISH, pushgate-fcall: FCALL pushgate_publish, pushgate-pub: POST /pub)",
      );
    }
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
  const clients = number("clients", quick ? 2000 : 10000, 1, 1000000);
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
      publishCount: number("publish-count", quick ? 5000 : 50000, 1, 10000000),
      publishConnections: number("publish-connections", 50, 1, 1000),
      publishSubscribers: number("publish-subscribers", quick ? 20 : 100, 1, 100000),
      publishSeconds: number("publish-seconds", quick ? 20 : 60, 1, 3600),
      payloadBytes: number("payload-bytes", 64, 1, 1000000),
      perProcess: number("per-process", 16000, 100, MAX_SOCKETS_PER_PROCESS),
      connectConcurrency: number("concurrency", 500, 1, 100000),
      openMsPerStream: number("open-ms-per-stream", 10, 1, 1000),
      rampChunk: number("ramp-chunk", 10000, 1, 1000000),
      settleMs: quick ? 1000 : 2000,
    },
    workers: number("workers", 6, 1, 64),
    workerConnections: number("worker-connections", 19000, 64, 19500),
    listenAddresses: number("listen-addresses", 1, 1, 16),
    nchanBuffer: number("nchan-buffer", 1000, 1, 1000000),
    out: values.get("out") ?? (quick ? `${date}-quick` : date),
    render: values.get("render"),
    ref: values.get("ref"),
    quietWait: number("quiet-wait", 120, 0, 86400),
    quietCpu: number("quiet-cpu", 0.1, 0, 64),
    nice: number("nice", process.getuid?.() === 0 ? -10 : 0, -20, 19),
    keep: argv.includes("--keep"),
    readme: argv.includes("--readme"),
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
    case "publish":
      result.publish = await publish(context);
      return;
  }
}

/** Workloads whose figures a server refused publishes in: never kept as figures; the run exits 1. */
const refusedPublishes: string[] = [];

/**
 * Waits (up to `maxSeconds`) until processes other than this run's use under `cpus` CPUs over 5 s: another job's load (tests, builds) would skew every figure. Returns seconds waited, or -1
 * if the machine never got quiet.
 */
async function waitForQuiet(maxSeconds: number, cpus: number): Promise<number> {
  const started = Date.now();
  let warned = false;
  for (;;) {
    const before = cpuSnapshot();
    await new Promise((done) => setTimeout(done, 5000));
    const use = cpuBetween(before, cpuSnapshot(), { runner: [process.pid, process.ppid] });
    if (use.others < cpus * 5) {
      return Math.round((Date.now() - started) / 1000);
    }
    if (Date.now() - started > maxSeconds * 1000) {
      log(`the machine is still busy (other processes used ${use.others} CPU s in 5 s): measuring anyway`);
      return -1;
    }
    if (!warned) {
      log(`waiting for a quiet machine: other processes used ${use.others} CPU s in the last 5 s`);
      warned = true;
    }
  }
}

async function runSetup(name: SetupName, options: Options, nginx: string, baseDir: string, addresses: AddressPool): Promise<SetupResult> {
  const result: SetupResult = { name, errors: {} };
  for (const workload of options.workloads) {
    if (PROFILE_SETUP_NAMES.includes(name) && workload !== "idle") {
      continue; // a profile setup only holds streams
    }
    const sameServer = SAME_SERVER_AS[name];
    if (sameServer !== undefined && (workload === "idle" || workload === "storm")) {
      result.skipped = { ...result.skipped, [workload]: `the same server as ${sameServer}: only the publish way differs, which this workload does not time` };
      continue;
    }
    const dir = mkdtempSync(join(baseDir, `${name}-${workload}-`));
    chmodSync(dir, 0o755);
    const serverOptions: ServerOptions = {
      nginx,
      dir,
      workers: options.workers,
      workerConnections: options.workerConnections,
      workerRlimitNofile: 20000,
      listenAddresses: options.listenAddresses,
      nchanSharedMemory: "512m",
      nchanBuffer: options.nchanBuffer,
      logLevel: "warn",
    };
    if (options.quietWait > 0) {
      const waited = await waitForQuiet(options.quietWait, options.quietCpu);
      result.quietWaits = { ...result.quietWaits, [workload]: waited };
    }
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
      const refused = Object.entries(publishFailures({ [workload]: result[workload as keyof SetupResult] }));
      if (refused.length > 0) {
        // A refused publish (a 429, a Redis error) is not a delivery: the figures are dropped.
        const total = refused.reduce((sum, [, n]) => sum + n, 0);
        result.errors[workload] =
          `${total} publishes were refused or unanswered (${refused.map(([why, n]) => `${n} × ${why}`).join("; ")}): no figure is kept for this workload`;
        delete result[workload as "fanout" | "many" | "storm" | "publish"];
        refusedPublishes.push(`${name} ${workload}: ${result.errors[workload]}`);
        log(`${name}: ${workload} FAILED: ${result.errors[workload]}`);
      }
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

/** Set in the copy's environment: the checkout the copy was taken from (results are written there). */
const CHECKOUT_ENV = "PUSHGATE_BENCH_CHECKOUT";

/** The checkout whose code is measured and where results go. */
function checkout(): string {
  return process.env[CHECKOUT_ENV] ?? ROOT;
}

/** The newest modification time (ms) of any file under the given directories of `root`. */
function newestChange(root: string, dirs: string[]): number {
  let newest = 0;
  const visit = (path: string): void => {
    for (const entry of readdirSync(path, { withFileTypes: true })) {
      const child = join(path, entry.name);
      if (entry.isDirectory()) {
        visit(child);
      } else {
        newest = Math.max(newest, statSync(child).mtimeMs);
      }
    }
  };
  for (const dir of dirs) {
    if (existsSync(join(root, dir))) {
      visit(join(root, dir));
    }
  }
  return newest;
}

const COPIED = ["build/src", "build/bench", "dist", "nginx"];
/** What a build must hold: the harness, the launcher, and the Lua entries (in either layout, to measure older revisions). */
const HARNESS = ["build/bench/run.js", "build/bench/loadgen.js", "build/src/cli/gateway.js"];
const LUA_LAYOUTS = [
  ["dist/pushgate/entry/init.lua", "dist/pushgate/entry/sub.lua", "dist/pushgate/entry/pub.lua"],
  ["dist/init.lua", "dist/sub-location.lua", "dist/pub-location.lua"],
];

/** The needed paths missing under `root` (the Lua entries of the layout it comes closest to). */
function missingIn(root: string, withHarness: boolean): string[] {
  const absent = (paths: string[]): string[] => paths.filter((path) => !existsSync(join(root, path)));
  const lua = LUA_LAYOUTS.map(absent).reduce((best, next) => (next.length < best.length ? next : best));
  return [...(withHarness ? absent(HARNESS) : absent(HARNESS.filter((path) => !path.startsWith("build/bench")))), ...lua];
}

/**
 * Copies what a run needs into `copy` once the build has been still for 5 s (a rebuild in the
 * working tree empties build/ and dist/ first), and checks nothing changed while copying.
 */
async function copyBuild(copy: string): Promise<void> {
  const deadline = Date.now() + 180000;
  for (;;) {
    const before = newestChange(ROOT, COPIED);
    const missing = missingIn(ROOT, true);
    if (missing.length === 0 && Date.now() > before + 5000) {
      rmSync(copy, { recursive: true, force: true });
      for (const dir of COPIED) {
        cpSync(join(ROOT, dir), join(copy, dir), { recursive: true });
      }
      cpSync(join(ROOT, "bench"), join(copy, "bench"), { recursive: true, filter: (path) => !path.includes("/bench/results") });
      if (newestChange(ROOT, COPIED) === before && missingIn(copy, true).length === 0) {
        return;
      }
    }
    if (Date.now() > deadline) {
      throw new Error(`the build did not settle within 3 min${missing.length > 0 ? ` (${missing.join(", ")} missing)` : ""}: run npm run build`);
    }
    await new Promise((done) => setTimeout(done, 1000));
  }
}

/** Set in the copy's environment when it measures a committed revision: "<ref> = <sha>". */
const MEASURED_ENV = "PUSHGATE_BENCH_MEASURED";

/**
 * Extracts the committed revision `ref` into `copy` (git archive: the working tree and the index
 * are not touched), builds it there with its own scripts/build and this checkout's node_modules,
 * and puts this harness (build/bench, bench/*.conf) beside it. Returns "<ref> = <sha>".
 */
function buildRef(ref: string, copy: string): string {
  const sha = spawnSync("git", ["-C", ROOT, "rev-parse", "--verify", `${ref}^{commit}`], { encoding: "utf8" });
  if (sha.status !== 0) {
    throw new Error(`--ref ${ref}: not a commit (${sha.stderr.trim()})`);
  }
  const commit = sha.stdout.trim();
  const archive = spawnSync("sh", ["-c", `git -C '${ROOT}' archive --format=tar ${commit} | tar -x -C '${copy}'`], { encoding: "utf8" });
  if (archive.status !== 0) {
    throw new Error(`--ref ${ref}: git archive failed: ${archive.stderr.trim()}`);
  }
  symlinkSync(join(ROOT, "node_modules"), join(copy, "node_modules"));
  const build = spawnSync("bash", ["scripts/build"], { cwd: copy, encoding: "utf8" });
  const missing = missingIn(copy, false);
  if (missing.length > 0) {
    throw new Error(`--ref ${ref}: its build failed (${missing.join(", ")} missing): ${`${build.stdout}${build.stderr}`.trim().slice(-2000)}`);
  }
  rmSync(join(copy, "build/bench"), { recursive: true, force: true });
  cpSync(join(ROOT, "build/bench"), join(copy, "build/bench"), { recursive: true });
  for (const template of readdirSync(join(ROOT, "bench")).filter((file) => file.endsWith(".conf"))) {
    cpSync(join(ROOT, "bench", template), join(copy, "bench", template));
  }
  return `${ref} = ${commit.substring(0, 10)}`;
}

/**
 * Runs the benchmark from a private copy of the compiled code (build/src, build/bench), the Lua
 * (dist/) and the config templates, so a rebuild in the working tree during a long run can neither
 * break it nor mix two versions of the code in one table. Resolves with the copy's exit code.
 */
async function runFromCopy(argv: string[], ref: string | undefined): Promise<number> {
  const copy = mkdtempSync(join(tmpdir(), "pushgate-bench-code-"));
  chmodSync(copy, 0o755); // nginx workers run as another user and read the Lua from here
  try {
    let measured: string | undefined;
    if (ref !== undefined) {
      measured = buildRef(ref, copy);
      log(`measuring ${measured}, built in ${copy}`);
    } else {
      await copyBuild(copy);
      log(`measuring a copy of build/ and dist/ taken now (${copy})`);
    }
    const env = { ...process.env, [CHECKOUT_ENV]: ROOT, ...(measured !== undefined ? { [MEASURED_ENV]: measured } : {}) };
    const child = spawn(process.execPath, [join(copy, "build/bench/run.js"), ...argv], { stdio: "inherit", env });
    const ignore = (): void => undefined; // Ctrl-C reaches the copy too; it stops what it started
    process.on("SIGINT", ignore);
    process.on("SIGTERM", () => child.kill("SIGTERM"));
    const code = await new Promise<number>((done) => child.on("exit", (c, signal) => done(c ?? (signal !== null ? 130 : 1))));
    process.off("SIGINT", ignore);
    return code;
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}

function write(results: RunResults, out: string, readme = false): void {
  const dir = resolve(checkout(), "bench/results");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${out}.json`), `${JSON.stringify(results, null, 1)}\n`);
  writeFileSync(join(dir, `${out}.svg`), renderSvg(results));
  writeFileSync(join(dir, `${out}.md`), renderMarkdown(results, `${out}.svg`));
  log(`wrote bench/results/${out}.md, .svg and .json`);
  if (readme) {
    const file = resolve(checkout(), "README.md");
    writeFileSync(file, withReadmeBlock(readFileSync(file, "utf8"), readmeBlock(results, `bench/results/${out}.md`)));
    log("wrote the benchmark tables into README.md");
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const options = parseArgs(argv);
  if (options.render !== undefined) {
    const results = JSON.parse(readFileSync(options.render, "utf8")) as RunResults;
    write(results, options.out, options.readme);
    return;
  }
  // An impossible size is refused before anything starts, with what to change (never a hang).
  const problems = capacityProblems(options);
  if (problems.length > 0) {
    throw new Error(`this configuration cannot hold its streams here:\n  - ${problems.join("\n  - ")}`);
  }
  if (process.env[CHECKOUT_ENV] === undefined) {
    // Every process the run starts (nginx, Redis, load generators) inherits this niceness, so
    // unrelated work on a shared machine takes less of the CPUs from the measurement.
    if (options.nice !== 0) {
      try {
        setPriority(options.nice);
      } catch (e) {
        log(`could not set niceness ${options.nice} (${(e as Error).message}): running at ${getPriority()}`);
      }
    }
    process.exitCode = await runFromCopy(argv, options.ref);
    return;
  }
  const nginx = findNginx();
  const baseDir = mkdtempSync(join(tmpdir(), "pushgate-bench-"));
  chmodSync(baseDir, 0o755); // nginx workers (another user) use the temp paths in here
  const addresses = new AddressPool();
  const started = Date.now();
  const results: RunResults = {
    command: `npm run bench${argv.length > 0 ? ` -- ${argv.join(" ")}` : ""}`,
    machine: machineInfo(nginx, checkout(), process.env[MEASURED_ENV]),
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
    void (running?.stop() ?? Promise.resolve()).finally(() => {
      if (!options.keep) {
        rmSync(baseDir, { recursive: true, force: true });
      }
      process.exit(130);
    });
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  try {
    for (const name of options.setups) {
      results.setups.push(await runSetup(name, options, nginx, baseDir, addresses));
      results.seconds = (Date.now() - started) / 1000;
      write(results, options.out); // partial results survive a later failure
    }
    if (refusedPublishes.length > 0) {
      log(`FAILED: servers refused publishes, so these workloads have no figures:\n  ${refusedPublishes.join("\n  ")}`);
      process.exitCode = 1;
    } else if (options.readme) {
      write(results, options.out, true); // README's tables come only from a complete run
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
