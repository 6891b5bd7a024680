// `npm run bench:flame -- PID|DIR [SECONDS] [--out FILE.svg] [--call-graph fp|dwarf]`: a CPU flame graph
// of running processes. Records `perf record -F 499 -g -p PID…` (Debian's linux-perf) for SECONDS
// (default 10), folds `perf script`'s stacks (one line per distinct stack with its sample count,
// the format other flame-graph tools read, kept beside the SVG as .folded) and draws them as an SVG.
// Given an nginx master's pid it records the master's workers; given a directory, the nginx whose
// nginx.pid is in it or in its nginx/ (a bench run's server directory, named <setup>-<workload>-…
// under the run's /tmp/pushgate-bench-…/, or a gateway's runtime directory). Run it while a load is
// on: a bench run (its log names each workload as it starts), a probe of bench/probes/, or a
// gateway of your own.
//
// Debian ships no flame-graph renderer, so the SVG is drawn by the `flamegraph` npm package (a dev
// dependency) from `perf script`'s own output; the folding is here, small: frames are `symbol`
// (offsets stripped), or `[file]` when perf has no symbol (LuaJIT's compiled traces show as
// `[unknown]`: see bench/README.md for PUSHGATE_LUA_PROFILE, the Lua-level profiler).

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";

/** The `flamegraph` package: perf script's lines to an SVG. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const flamegraph = require("flamegraph") as (lines: string[], options: { titletext: string; countname: string }) => string;

const USAGE = `usage: npm run bench:flame -- PID[,PID…]|DIR [SECONDS] [--out FILE.svg] [--call-graph fp|dwarf] [--title TEXT]
  PID            processes to sample; an nginx master's pid means its workers
  DIR            a directory with nginx.pid in it or in its nginx/ (a bench server's directory
                 while the bench runs, or a gateway's runtime directory): that nginx's workers
  SECONDS        how long to record (default 10)
  --out          the SVG (default bench/results/flame-<date>-<pid>.svg); FILE.folded is written beside it
  --call-graph   fp: frame pointers (perf's -g, the default); dwarf: unwinds binaries built without
                 frame pointers too (deeper nginx stacks, larger recordings)
  --title        the graph's title (default: the command lines of the processes)`;

interface Options {
  pids: number[];
  seconds: number;
  out: string;
  callGraph: "fp" | "dwarf";
  title?: string;
}

function fail(message: string): never {
  console.error(`flame: ${message}`);
  process.exit(2);
}

function parseArgs(argv: string[]): Options {
  const positional: string[] = [];
  const named = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--help" || argv[i] === "-h") {
      console.log(USAGE);
      process.exit(0);
    }
    if (argv[i].startsWith("--")) {
      if (i + 1 >= argv.length) {
        fail(`${argv[i]} needs a value\n${USAGE}`);
      }
      named.set(argv[i].substring(2), argv[++i]);
    } else {
      positional.push(argv[i]);
    }
  }
  const pids = pidsOf(positional[0] ?? "");
  if (pids.length === 0 || pids.some((pid) => !Number.isInteger(pid) || pid < 1)) {
    fail(`give the pid of a running process\n${USAGE}`);
  }
  const seconds = Number(positional[1] ?? "10");
  if (!(seconds > 0 && seconds <= 600)) {
    fail("SECONDS must be from 0 to 600");
  }
  const callGraph = named.get("call-graph") ?? "fp";
  if (callGraph !== "fp" && callGraph !== "dwarf") {
    fail("--call-graph is fp or dwarf");
  }
  const date = new Date().toISOString().substring(0, 10);
  const out = named.get("out") ?? resolve(__dirname, "../../bench/results", `flame-${date}-${pids[0]}.svg`);
  return { pids, seconds, out, callGraph, title: named.get("title") };
}

/** The pids given: a comma list, or the nginx master whose nginx.pid is in the directory given. */
function pidsOf(arg: string): number[] {
  if (arg.length > 0 && existsSync(arg) && statSync(arg).isDirectory()) {
    const file = [join(arg, "nginx.pid"), join(arg, "nginx", "nginx.pid")].find((path) => existsSync(path));
    if (file === undefined) {
      fail(`no nginx.pid in ${arg} or ${join(arg, "nginx")}: is its nginx running?`);
    }
    return [Number(readFileSync(file, "utf8").trim())];
  }
  return arg
    .split(",")
    .filter((p) => p.length > 0)
    .map(Number);
}

/** The command line of a process, or undefined when it is gone. */
function commandLine(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
  } catch {
    return undefined;
  }
}

/** An nginx master's workers (its children), else the pid itself. */
function sampled(pid: number): number[] {
  const line = commandLine(pid);
  if (line === undefined) {
    fail(`no process ${pid}`);
  }
  if (!line.startsWith("nginx: master")) {
    return [pid];
  }
  const children: number[] = [];
  for (const entry of readdirSync("/proc").filter((e) => /^\d+$/.test(e))) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      if (Number(stat.substring(stat.lastIndexOf(")") + 2).split(" ")[1]) === pid) {
        children.push(Number(entry));
      }
    } catch {
      // gone meanwhile
    }
  }
  return children.length > 0 ? children : [pid];
}

/** A frame without a symbol, named by where its code lies. */
function placeOf(dso: string): string {
  if (/perf-\d+\.map$/.test(dso)) {
    return "[JIT code: LuaJIT traces]"; // anonymous executable memory; no perf map is written for it
  }
  return dso.startsWith("[") ? dso : `[${basename(dso)}]`;
}

/**
 * Folds `perf script` output: each sample is a header line and its frames, innermost first, then a
 * blank line. Returns "outermost;…;innermost" → samples.
 */
export function fold(script: string): Map<string, number> {
  const stacks = new Map<string, number>();
  for (const sample of script.split(/\n\s*\n/)) {
    const lines = sample.split("\n").filter((line) => line.trim().length > 0);
    if (lines.length === 0) {
      continue;
    }
    const comm = lines[0].trim().split(/\s+/)[0];
    const frames: string[] = [];
    for (const line of lines.slice(1)) {
      // "\t    55d0c4a1b2c3 ngx_http_lua_run_thread+0x123 (/usr/lib/nginx/modules/ngx_http_lua_module.so)"
      const match = /^\s*[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$/.exec(line);
      if (match === null) {
        continue;
      }
      const symbol = match[1].replace(/\+0x[0-9a-f]+$/, "");
      const frame = symbol !== "[unknown]" ? symbol : placeOf(match[2]);
      // Frame-pointer walks through code built without them repeat "[unknown]": one is enough.
      if (frame !== frames[frames.length - 1] || !frame.startsWith("[")) {
        frames.push(frame);
      }
    }
    const key = [comm, ...frames.reverse()].join(";");
    stacks.set(key, (stacks.get(key) ?? 0) + 1);
  }
  return stacks;
}

function main(): void {
  const options = parseArgs(process.argv.slice(2));
  const pids = options.pids.flatMap(sampled);
  const title =
    options.title ?? `CPU, ${options.seconds} s at 499 Hz: ${[...new Set(pids.map((pid) => commandLine(pid) ?? `${pid}`))].join(", ").substring(0, 150)}`;
  const work = mkdtempSync(join(tmpdir(), "pushgate-flame-"));
  try {
    const data = join(work, "perf.data");
    const graph = options.callGraph === "dwarf" ? ["--call-graph", "dwarf"] : ["-g"];
    console.error(`flame: recording ${pids.join(",")} for ${options.seconds} s`);
    const record = spawnSync("perf", ["record", "-F", "499", ...graph, "-p", pids.join(","), "-o", data, "--", "sleep", `${options.seconds}`], {
      encoding: "utf8",
      timeout: (options.seconds + 60) * 1000,
    });
    if (record.error !== undefined || !existsSync(data)) {
      fail(`perf record failed (apt-get install linux-perf; run as root): ${record.error?.message ?? record.stderr.trim()}`);
    }
    const script = spawnSync("perf", ["script", "-i", data, "-F", "comm,pid,tid,time,event,ip,sym,dso"], {
      encoding: "utf8",
      maxBuffer: 1 << 30,
      timeout: 300000,
    });
    if (script.status !== 0) {
      fail(`perf script failed: ${script.stderr.trim()}`);
    }
    const stacks = fold(script.stdout);
    if (stacks.size === 0) {
      fail(`no samples: did the processes run during the ${options.seconds} s?`);
    }
    mkdirSync(dirname(options.out), { recursive: true });
    const folded = options.out.replace(/\.svg$/, "") + ".folded";
    writeFileSync(
      folded,
      [...stacks]
        .sort((a, b) => b[1] - a[1])
        .map(([stack, n]) => `${stack} ${n}`)
        .join("\n") + "\n",
    );
    const plain = spawnSync("perf", ["script", "-i", data], { encoding: "utf8", maxBuffer: 1 << 30, timeout: 300000 });
    if (plain.status !== 0) {
      fail(`perf script failed: ${plain.stderr.trim()}`);
    }
    writeFileSync(options.out, flamegraph(plain.stdout.split("\n"), { titletext: title, countname: "samples" }));
    const total = [...stacks.values()].reduce((a, b) => a + b, 0);
    console.error(`flame: ${total} samples; wrote ${options.out} and ${folded}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (require.main === module) {
  main();
}
