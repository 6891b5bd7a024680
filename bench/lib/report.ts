// Turns a run's results into bench/results/<name>.md (tables with the machine and the command, and
// each Pushgate setup's ratios against Nchan + Redis) and <name>.svg (a hand-written bar chart of
// the main figures). Every setup is labelled with how its messages are published.

import type { MachineInfo } from "./machine";
import { PROFILE_SETUP_NAMES, SAME_SERVER_AS, SetupName } from "./setups";
import type { FanoutResult, IdleResult, ManyResult, PublishThroughput, StormResult, WorkloadName } from "./workloads";

export interface SetupResult {
  name: SetupName;
  /** Set when the setup could not run at all (reason) or a workload failed (workload: reason). */
  notAvailable?: string;
  errors: Partial<Record<WorkloadName, string>>;
  /** Workloads not run for this setup, with why (the same server as another setup). */
  skipped?: Partial<Record<WorkloadName, string>>;
  /** Seconds waited for a quiet machine before each workload (-1: it never got quiet). */
  quietWaits?: Partial<Record<WorkloadName, number>>;
  publishVia?: string;
  redisMaxClients?: number;
  idle?: IdleResult;
  fanout?: FanoutResult;
  many?: ManyResult;
  storm?: StormResult;
  publish?: PublishThroughput;
}

export interface RunResults {
  command: string;
  machine: MachineInfo;
  settings: {
    workers: number;
    workerConnections: number;
    workerRlimitNofile: number;
    listenAddresses: number;
    perProcess: number;
    payloadBytes: number;
    idleStreamsPerChannel: number;
  };
  seconds: number;
  setups: SetupResult[];
}

/** Each setup's label names its server and how it is published to (durable: kept, with an id). */
const LABELS: Record<SetupName, string> = {
  "pushgate-shared": "Pushgate shared · PUBLISH",
  "pushgate-fcall": "Pushgate shared · FCALL (durable)",
  "pushgate-pub": "Pushgate shared · POST /pub (durable)",
  "pushgate-direct": "Pushgate direct · PUBLISH",
  "nchan-redis": "Nchan + Redis · POST (stored)",
  "nchan-memory": "Nchan memory · POST (stored)",
  "lua-floor": "nginx + Lua floor (profile)",
  "nginx-floor": "nginx floor (profile)",
};

const COLORS: Record<SetupName, string> = {
  "pushgate-shared": "#1b7f5b",
  "pushgate-fcall": "#2b6cb0",
  "pushgate-pub": "#6b46c1",
  "pushgate-direct": "#7fc8a9",
  "nchan-redis": "#c0504d",
  "nchan-memory": "#e8a09a",
  "lua-floor": "#9e9e9e",
  "nginx-floor": "#cfcfcf",
};

function int(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "–";
}

function fixed(n: number, digits: number): string {
  return Number.isFinite(n) ? n.toFixed(digits) : "–";
}

function ms(n: number): string {
  if (!Number.isFinite(n)) {
    return "–";
  }
  return n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : Math.round(n).toLocaleString("en-US");
}

function kN(n: number): string {
  return n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : `${n}`;
}

function reasons(table: Record<string, number>): string {
  const entries = Object.entries(table);
  return entries.length === 0 ? "" : entries.map(([reason, n]) => `${int(n)} × ${reason}`).join("; ");
}

/** A markdown table; columns after the first are right-aligned (numbers) unless `leftAligned`. */
function table(header: string[], rows: string[][], leftAligned = false): string {
  const line = (cells: string[]): string => `| ${cells.map((c) => c.replace(/\|/g, "\\|")).join(" | ")} |`;
  const rule = header.map((_, i) => (i === 0 || leftAligned ? "---" : "---:")).join("|");
  return [line(header), `|${rule}|`, ...rows.map(line)].join("\n");
}

function allN(results: RunResults): number[] {
  const ns = new Set<number>();
  for (const setup of results.setups) {
    setup.idle?.steps.forEach((step) => ns.add(step.n));
    setup.idle?.skipped.forEach((n) => ns.add(n));
  }
  return [...ns].sort((a, b) => a - b);
}

function idleCell(setup: SetupResult, n: number): string {
  const step = setup.idle?.steps.find((s) => s.n === n);
  if (step === undefined) {
    return setup.idle?.skipped.includes(n) ? "not reached" : "–";
  }
  const value = fixed(step.pssKbPerStream, 1);
  return step.reached < n ? `${value} (at ${int(step.reached)}; fell short)` : value;
}

/** The figures compared as ratios, each with whether a larger value is better. */
interface RatioFigure {
  title: string;
  higherIsBetter: boolean;
  pick: (setup: SetupResult) => number | undefined;
}

function ratioFigures(ns: number[]): RatioFigure[] {
  const perDelivery = (cpu: Record<string, number> | undefined, deliveries: number | undefined): number | undefined =>
    cpu !== undefined && deliveries !== undefined && deliveries > 0 ? (cpu.nginx * 1e6) / deliveries : undefined;
  return [
    ...ns.map((n) => ({
      title: `KB/stream at ${kN(n)}`,
      higherIsBetter: false,
      pick: (setup: SetupResult) => {
        const step = setup.idle?.steps.find((s) => s.n === n);
        return step !== undefined && step.reached >= n ? step.pssKbPerStream : undefined;
      },
    })),
    { title: "burst deliveries/s", higherIsBetter: true, pick: (setup) => setup.fanout?.burst.deliveriesPerSecond },
    { title: "burst p99", higherIsBetter: false, pick: (setup) => setup.fanout?.burst.latency.p99Ms },
    { title: "paced p50", higherIsBetter: false, pick: (setup) => setup.fanout?.paced.latency.p50Ms },
    { title: "paced p99", higherIsBetter: false, pick: (setup) => setup.fanout?.paced.latency.p99Ms },
    { title: "nginx CPU/delivery, burst", higherIsBetter: false, pick: (setup) => perDelivery(setup.fanout?.burst.cpu, setup.fanout?.burst.delivered) },
    { title: "nginx CPU/delivery, paced", higherIsBetter: false, pick: (setup) => perDelivery(setup.fanout?.paced.cpu, setup.fanout?.paced.delivered) },
    { title: "many channels: s to all", higherIsBetter: false, pick: (setup) => setup.many?.secondsToAll },
    { title: "storm: s to all", higherIsBetter: false, pick: (setup) => setup.storm?.secondsToAll },
    { title: "publishes/s", higherIsBetter: true, pick: (setup) => setup.publish?.requestsPerSecond },
    { title: "publish p99", higherIsBetter: false, pick: (setup) => setup.publish?.latency.p99Ms },
  ];
}

/** Every Pushgate setup's figures divided by Nchan + Redis's from the same run (undefined without both). */
function ratioTable(results: RunResults, ns: number[]): string | undefined {
  const base = results.setups.find((setup) => setup.name === "nchan-redis" && setup.notAvailable === undefined);
  const pushgate = results.setups.filter((setup) => setup.name.startsWith("pushgate-") && setup.notAvailable === undefined);
  if (base === undefined || pushgate.length === 0) {
    return undefined;
  }
  const figures = ratioFigures(ns).filter((figure) => figure.pick(base) !== undefined && pushgate.some((setup) => figure.pick(setup) !== undefined));
  if (figures.length === 0) {
    return undefined;
  }
  const cell = (setup: SetupResult, figure: RatioFigure): string => {
    const mine = figure.pick(setup);
    const theirs = figure.pick(base);
    if (mine === undefined || theirs === undefined || !(theirs > 0) || !Number.isFinite(mine)) {
      return setup.skipped !== undefined && figure.title.match(/KB|storm/) !== null ? "same server" : "–";
    }
    const ratio = mine / theirs;
    const better = figure.higherIsBetter ? ratio > 1 : ratio < 1;
    return `${ratio.toFixed(2)}×${Math.abs(ratio - 1) < 0.005 ? "" : better ? " ✓" : ""}`;
  };
  return table(
    ["setup", ...figures.map((figure) => figure.title)],
    pushgate.map((setup) => [LABELS[setup.name], ...figures.map((figure) => cell(setup, figure))]),
  );
}

const RATIO_NOTE =
  "Each Pushgate setup's figure divided by Nchan + Redis's in this run. ✓ marks Pushgate ahead: above 1 for deliveries/s and publishes/s, below 1 for memory, latency, CPU and seconds. Differences under ~5% are noise on a 2-core machine.";

function ratioSection(results: RunResults, ns: number[]): string[] {
  const ratios = ratioTable(results, ns);
  if (ratios === undefined) {
    return [];
  }
  return [`## Ratios against ${LABELS["nchan-redis"]}`, "", RATIO_NOTE, "", ratios, ""];
}

/** Where README.md's benchmark tables begin and end: `--readme` writes what is between. */
export const README_START = "<!-- bench tables: written by `npm run bench -- … --readme` from a run; edit the run, not them -->";
export const README_END = "<!-- end of bench tables -->";

/** README's benchmark tables from a run: what, where and when, the summary and the ratios, a link to the full report. */
export function readmeBlock(results: RunResults, report: string): string {
  const m = results.machine;
  const ns = allN(results);
  const lines = [
    `From \`${results.command}\` at commit ${m.commit} on ${m.date.substring(0, 10)} (${m.cpus} CPUs, ${m.memoryGiB} GiB, ${results.settings.workers} nginx workers for every setup): [${report}](${report}).`,
    "",
    summaryTable(results, ns),
  ];
  const ratios = ratioTable(results, ns);
  if (ratios !== undefined) {
    lines.push("", RATIO_NOTE, "", ratios);
  }
  return lines.join("\n");
}

/** `readme` with the text between README_START and README_END replaced by `block`; an error when the markers are missing. */
export function withReadmeBlock(readme: string, block: string): string {
  const start = readme.indexOf(README_START);
  const end = readme.indexOf(README_END);
  if (start < 0 || end < start) {
    throw new Error(`README.md has no benchmark tables to replace: put ${README_START} and ${README_END} around them`);
  }
  return `${readme.substring(0, start + README_START.length)}\n${block}\n${readme.substring(end)}`;
}

/** The summary: each setup's main figures, one row per setup. */
function summaryTable(results: RunResults, ns: number[]): string {
  return table(
    ["setup", ...ns.map((n) => `KB/stream at ${kN(n)}`), "fan-out deliveries/s", "fan-out p99 ms", "many channels: s to all", "storm: s to all", "publishes/s"],
    results.setups.map((setup) => {
      if (setup.notAvailable !== undefined) {
        return [LABELS[setup.name], ...ns.map(() => "not available"), "not available", "not available", "not available", "not available", "not available"];
      }
      const same = SAME_SERVER_AS[setup.name];
      const skipped = (workload: WorkloadName, cell: string): string =>
        setup.skipped?.[workload] !== undefined && same !== undefined ? `same server as ${LABELS[same]}` : cell;
      return [
        LABELS[setup.name],
        ...ns.map((n) => skipped("idle", idleCell(setup, n))),
        setup.fanout !== undefined ? int(setup.fanout.burst.deliveriesPerSecond) : "–",
        setup.fanout !== undefined ? ms(setup.fanout.burst.latency.p99Ms) : "–",
        setup.many !== undefined ? fixed(setup.many.secondsToAll, 2) : "–",
        skipped("storm", setup.storm !== undefined ? fixed(setup.storm.secondsToAll, 2) : "–"),
        setup.publish !== undefined ? int(setup.publish.requestsPerSecond) : "–",
      ];
    }),
  );
}

export function renderMarkdown(results: RunResults, svgFile: string): string {
  const m = results.machine;
  const s = results.settings;
  const ran = results.setups.filter((setup) => setup.notAvailable === undefined);
  const ns = allN(results);
  const out: string[] = [];
  out.push(`# Pushgate benchmark, ${m.date.substring(0, 10)}`);
  out.push("");
  out.push(`Produced by \`${results.command}\` in ${int(results.seconds / 60)} min. See bench/README.md for what each figure means.`);
  out.push("");
  out.push(
    table(
      ["", ""],
      [
        ["Machine", `${m.cpus} CPUs (${m.cpuModel}), ${m.memoryGiB} GiB RAM, ${m.kernel}, open files ≤ ${m.openFilesLimit} per process`],
        [
          "nginx",
          `${m.nginx} (${m.nginxPath}), ${s.workers} workers, worker_connections ${s.workerConnections}, worker_rlimit_nofile ${s.workerRlimitNofile}, ${s.listenAddresses} listen address(es)`,
        ],
        [
          "Redis",
          `${m.redis}, a fresh server for each run of each setup (maxclients after its own file limit: ${[...new Set(ran.map((r) => r.redisMaxClients).filter((x) => x !== undefined))].join(", ") || "–"})`,
        ],
        ["Nchan", `libnginx-mod-nchan ${m.nchan}, http-chunked subscribers (bench/nchan.conf)`],
        [
          "Load generator",
          `Node ${m.node}, raw HTTP/1.1 over net sockets, ≤ ${int(s.perProcess)} sockets per process, from 127.0.x.y source addresses; messages of ${s.payloadBytes} bytes`,
        ],
        ["Publishing", ran.map((r) => `${LABELS[r.name]}: ${r.publishVia ?? "–"}`).join("; ")],
        ["Repository", `commit ${m.commit}`],
        ["Date", `${m.date} (1-minute load average at the start: ${m.loadAtStart ?? "–"}; the run's processes at niceness ${m.niceness ?? 0})`],
      ],
      true,
    ),
  );
  out.push("");
  out.push(`![main figures](${svgFile})`);
  out.push("");

  out.push("## Summary");
  out.push("");
  out.push(summaryTable(results, ns));
  out.push("");
  for (const setup of results.setups.filter((r) => r.skipped !== undefined && Object.keys(r.skipped).length > 0)) {
    out.push(`- ${LABELS[setup.name]}: ${Object.keys(setup.skipped!).join(" and ")} not run: ${Object.values(setup.skipped!)[0]}.`);
  }
  out.push("");
  out.push(...ratioSection(results, ns));
  const unavailable = results.setups.filter((setup) => setup.notAvailable !== undefined);
  const failed = results.setups.filter((setup) => Object.keys(setup.errors).length > 0);
  if (unavailable.length > 0 || failed.length > 0) {
    for (const setup of unavailable) {
      out.push(`- **${LABELS[setup.name]}: not available.** ${setup.notAvailable}`);
    }
    for (const setup of failed) {
      for (const [workload, error] of Object.entries(setup.errors)) {
        out.push(`- **${LABELS[setup.name]}, ${workload}: failed.** ${error}`);
      }
    }
    out.push("");
  }

  const idleSetups = ran.filter((setup) => setup.idle !== undefined);
  if (idleSetups.length > 0) {
    out.push("## Idle memory per stream");
    out.push("");
    out.push(
      `(nginx master + workers + Redis − the same before any client) / streams held. Main figure from PSS (shared pages counted once); RSS summed over processes beside it. ${s.idleStreamsPerChannel === 1 ? "Every stream on its own channel." : `${s.idleStreamsPerChannel} streams per channel.`}`,
    );
    out.push("");
    const rows: string[][] = [];
    const notes: string[] = [];
    for (const setup of idleSetups) {
      const idle = setup.idle!;
      for (const step of idle.steps) {
        rows.push([
          LABELS[setup.name],
          int(step.n),
          int(step.reached),
          fixed(step.pssKbPerStream, 2),
          fixed(step.nginxPssKbPerStream, 2),
          fixed(step.redisPssKbPerStream, 2),
          fixed(step.rssKbPerStream, 2),
          int(step.redisClients),
          fixed(step.rampSeconds, 1),
        ]);
        if (step.shortfall !== undefined) {
          notes.push(`- ${LABELS[setup.name]} at N = ${int(step.n)}: held ${int(step.reached)}. ${step.shortfall.join("; ")}`);
        }
      }
      for (const n of idle.skipped) {
        rows.push([LABELS[setup.name], int(n), "not attempted", "–", "–", "–", "–", "–", "–"]);
      }
      rows.push([
        `${LABELS[setup.name]} baseline`,
        "0",
        "0",
        `${int(idle.baseline.nginx.pssKb + idle.baseline.redis.pssKb)} KB total`,
        `${int(idle.baseline.nginx.pssKb)} KB (${idle.baseline.nginxProcesses} processes)`,
        `${int(idle.baseline.redis.pssKb)} KB`,
        `${int(idle.baseline.nginx.rssKb + idle.baseline.redis.rssKb)} KB total`,
        int(idle.baselineRedisClients),
        "",
      ]);
    }
    out.push(table(["setup", "N", "streams held", "KB/stream", "nginx KB/stream", "Redis KB/stream", "RSS KB/stream", "Redis clients", "ramp-up s"], rows));
    out.push("");
    out.push(...notes);
    if (notes.length > 0) {
      out.push("");
    }
  }

  const fanoutSetups = ran.filter((setup) => setup.fanout !== undefined);
  if (fanoutSetups.length > 0) {
    const f = fanoutSetups[0].fanout!;
    out.push("## Fan-out");
    out.push("");
    out.push(
      `One channel, ${int(f.subscribers)} subscribers. Burst: ${f.burst.messages} messages published back to back; deliveries/s = messages received by all subscribers / (last delivery − first publish). Paced: ${f.paced.rate} messages/s for ${int(f.paced.messages / f.paced.rate)} s. Latency: publish → received by the client, all deliveries.`,
    );
    out.push("");
    out.push(
      table(
        [
          "setup",
          "subscribed",
          "burst delivered",
          "deliveries/s",
          "p50 ms",
          "p99 ms",
          "max ms",
          "paced delivered",
          "paced p50 ms",
          "paced p99 ms",
          "paced max ms",
          "Redis clients",
        ],
        fanoutSetups.map((setup) => {
          const r = setup.fanout!;
          return [
            LABELS[setup.name],
            int(r.subscribed),
            `${int(r.burst.delivered)} / ${int(r.burst.expected)}`,
            int(r.burst.deliveriesPerSecond),
            ms(r.burst.latency.p50Ms),
            ms(r.burst.latency.p99Ms),
            ms(r.burst.latency.maxMs),
            `${int(r.paced.delivered)} / ${int(r.paced.expected)}`,
            ms(r.paced.latency.p50Ms),
            ms(r.paced.latency.p99Ms),
            ms(r.paced.latency.maxMs),
            int(r.redisClients),
          ];
        }),
      ),
    );
    out.push("");
    for (const setup of fanoutSetups) {
      const r = setup.fanout!;
      const problems = [reasons(r.failures), reasons(r.burst.publishFailures), reasons(r.paced.publishFailures)].filter((x) => x.length > 0);
      if (problems.length > 0) {
        out.push(`- ${LABELS[setup.name]}: ${problems.join("; ")}`);
      }
    }
    out.push("");
  }

  const manySetups = ran.filter((setup) => setup.many !== undefined);
  if (manySetups.length > 0) {
    out.push("## Many channels");
    out.push("");
    out.push(
      `${int(manySetups[0].many!.channels)} channels with one subscriber each; one message published to each, back to back. Time from the first publish to the last delivery.`,
    );
    out.push("");
    out.push(
      table(
        ["setup", "subscribed", "delivered", "s to all", "p50 ms", "p99 ms", "max ms", "Redis clients"],
        manySetups.map((setup) => {
          const r = setup.many!;
          return [
            LABELS[setup.name],
            int(r.subscribed),
            `${int(r.delivered)} / ${int(r.expected)}`,
            fixed(r.secondsToAll, 2),
            ms(r.latency.p50Ms),
            ms(r.latency.p99Ms),
            ms(r.latency.maxMs),
            int(r.redisClients),
          ];
        }),
      ),
    );
    out.push("");
  }

  const stormSetups = ran.filter((setup) => setup.storm !== undefined);
  if (stormSetups.length > 0) {
    out.push("## Reconnect storm");
    out.push("");
    out.push(
      `${int(stormSetups[0].storm!.clients)} subscribed clients (one channel each) drop their connections and reconnect at once; a client counts as subscribed again at its 200 status line (Nchan sends its headers once the subscriber is enqueued). Failed attempts retry after 100 ms. Afterwards one message goes to every channel to check the new streams deliver. The load-generator floor is the same clients connecting at once to /healthz (nginx answers it without any module): the part of the time the clients themselves take.`,
    );
    out.push("");
    out.push(
      table(
        ["setup", "dropped", "resubscribed", "s until all", "p50 ms", "p99 ms", "load-generator floor s", "retries", "failed for good", "delivered after"],
        stormSetups.map((setup) => {
          const r = setup.storm!;
          return [
            LABELS[setup.name],
            int(r.dropped),
            int(r.resubscribed),
            fixed(r.secondsToAll, 2),
            ms(r.resubscribe.p50Ms),
            ms(r.resubscribe.p99Ms),
            fixed(r.floorSeconds, 2),
            int(r.retried),
            reasons(r.failures) || "0",
            `${int(r.deliveredAfter)} / ${int(r.expectedAfter)}`,
          ];
        }),
      ),
    );
    out.push("");
    for (const setup of stormSetups) {
      if (setup.storm!.shortfall !== undefined && setup.storm!.shortfall.length > 0) {
        out.push(`- ${LABELS[setup.name]}: ${setup.storm!.shortfall.join("; ")}`);
      }
    }
    out.push("");
  }
  const publishSetups = ran.filter((setup) => setup.publish !== undefined);
  if (publishSetups.length > 0) {
    const p = publishSetups[0].publish!;
    out.push("## Publishing throughput");
    out.push("");
    out.push(
      `${int(p.requested)} publishes to one channel with ${int(p.subscribers)} subscribers (so every server stores and delivers each), over ${int(p.connections)} connections with one publish in flight each (keep-alive HTTP, or RESP for the setups that publish over Redis, sent by a load-generator process as a backend would), stopping at a time bound if the count is not reached. Publishes/s = accepted publishes / (last answer − first publish); latency is each publish's round trip. Server CPU is nginx + Redis from the first publish to the last delivery.`,
    );
    out.push("");
    out.push(
      table(
        [
          "setup",
          "publish way",
          "accepted",
          "publishes/s",
          "p50 ms",
          "p99 ms",
          "max ms",
          "nginx CPU s",
          "Redis CPU s",
          "server µs/publish",
          "delivered",
          "delivery p99 ms",
          "failed",
        ],
        publishSetups.map((setup) => {
          const r = setup.publish!;
          const server = r.cpu.nginx + r.cpu.redis;
          return [
            LABELS[setup.name],
            r.way + ((r.reconnects ?? 0) > 0 ? ` (${int(r.reconnects)} connections reopened after nginx's keepalive_requests)` : ""),
            `${int(r.completed)} / ${int(r.requested)}${r.stoppedAtTimeBound ? " (time bound)" : ""}`,
            int(r.requestsPerSecond),
            ms(r.latency.p50Ms),
            ms(r.latency.p99Ms),
            ms(r.latency.maxMs),
            fixed(r.cpu.nginx, 2),
            fixed(r.cpu.redis, 2),
            r.completed > 0 ? fixed((server * 1e6) / r.completed, 1) : "–",
            `${int(r.delivered)} / ${int(r.expected)}`,
            ms(r.deliveryLatency.p99Ms),
            reasons(r.failures) || "0",
          ];
        }),
      ),
    );
    out.push("");
    for (const setup of publishSetups) {
      const r = setup.publish!;
      if (r.delivered < r.expected) {
        out.push(
          `- ${LABELS[setup.name]}: ${int(r.delivered)} of ${int(r.expected)} deliveries arrived (${fixed((100 * r.delivered) / Math.max(1, r.expected), 1)}%): its subscribers did not get every message it accepted, so its publishes/s is not a like-for-like figure.`,
        );
      }
    }
    out.push("");
  }

  const cpuRows: string[][] = [];
  for (const setup of ran) {
    const intervals: Array<[string, Record<string, number> | undefined, number]> = [
      ["fan-out burst", setup.fanout?.burst.cpu, setup.fanout?.burst.delivered ?? 0],
      ["fan-out paced", setup.fanout?.paced.cpu, setup.fanout?.paced.delivered ?? 0],
      ["many channels", setup.many?.cpu, setup.many?.delivered ?? 0],
      ["reconnect storm", setup.storm?.cpu, 0],
      ["publishing", setup.publish?.cpu, setup.publish?.delivered ?? 0],
    ];
    for (const [what, cpu, deliveries] of intervals) {
      if (cpu === undefined) {
        continue;
      }
      const per = (seconds: number): string => (deliveries > 0 ? fixed((seconds * 1e6) / deliveries, 2) : "");
      cpuRows.push([
        LABELS[setup.name],
        what,
        fixed(cpu.wall, 1),
        fixed(cpu.nginx, 2),
        fixed(cpu.redis, 2),
        fixed(cpu.loadgen + cpu.runner, 2),
        fixed(cpu.kernel, 2),
        fixed(cpu.others, 2),
        per(cpu.nginx),
        per(cpu.redis),
      ]);
    }
  }
  const busy = ran.flatMap((setup) =>
    Object.entries(setup.quietWaits ?? {})
      .filter(([, waited]) => waited === -1)
      .map(([workload]) => `${LABELS[setup.name]} ${workload}`),
  );
  if (cpuRows.length > 0) {
    out.push("## Where the CPU went");
    if (busy.length > 0) {
      out.push("");
      out.push(`**The machine was busy with other work when these started (figures skewed): ${busy.join(", ")}.**`);
    }
    out.push("");
    out.push(
      `CPU seconds (user + system, from /proc) over each timed interval, which includes waiting for the last delivery. "load generator" is the client processes and the runner (publishing); "kernel" is kernel threads (part of loopback networking); "others" is every other process on the machine: work that is not the benchmark's and competes with it for the ${m.cpus} CPUs.`,
    );
    out.push("");
    out.push(
      table(
        ["setup", "interval", "wall s", "nginx s", "Redis s", "load generator s", "kernel s", "others s", "nginx µs/delivery", "Redis µs/delivery"],
        cpuRows,
      ),
    );
    out.push("");
  }
  return `${out
    .join("\n")
    .replace(/\n{3,}/g, "\n\n")
    .trim()}\n`;
}

// ---------------------------------------------------------------------------------------------
// SVG

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** A round step for about four grid lines up to `value`, and the top of the axis. */
function axis(value: number): { step: number; top: number } {
  if (!(value > 0)) {
    return { step: 0.25, top: 1 };
  }
  const raw = value / 4;
  const magnitude = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((candidate) => candidate >= raw) ?? 10 * magnitude;
  return { step, top: step * Math.ceil(value / step) };
}

function shortNumber(n: number): string {
  if (Number.isInteger(n) && n < 1e4) {
    return `${n}`;
  }
  if (n >= 1e6) {
    return `${(n / 1e6).toFixed(n >= 1e7 ? 0 : 1)}M`;
  }
  if (n >= 1e4) {
    return `${Math.round(n / 1e3)}k`;
  }
  if (n >= 100) {
    return `${Math.round(n)}`;
  }
  return n >= 10 ? n.toFixed(1) : n.toFixed(2);
}

interface Panel {
  title: string;
  groups: string[];
  series: SetupName[];
  /** values[group][series]; NaN: no bar ("n/a"). */
  values: number[][];
  /** A note per bar (e.g. "short"), drawn above the value. */
  notes?: string[][];
}

function panelSvg(panel: Panel, x: number, y: number, width: number, height: number): string {
  const top = 34;
  const bottom = 26;
  const left = 46;
  const plotW = width - left - 10;
  const plotH = height - top - bottom;
  const { step, top: max } = axis(Math.max(0, ...panel.values.flat().filter((v) => Number.isFinite(v))));
  const lines = Math.round(max / step);
  const parts: string[] = [`<g transform="translate(${x},${y})">`];
  parts.push(`<text x="${width / 2}" y="18" text-anchor="middle" font-size="13" font-weight="bold">${escapeXml(panel.title)}</text>`);
  for (let i = 0; i <= lines; i++) {
    const v = step * i;
    const yy = top + plotH - (plotH * i) / lines;
    parts.push(`<line x1="${left}" y1="${yy}" x2="${left + plotW}" y2="${yy}" stroke="#ddd"/>`);
    parts.push(`<text x="${left - 4}" y="${yy + 4}" text-anchor="end" font-size="10" fill="#555">${shortNumber(v)}</text>`);
  }
  const groupW = plotW / panel.groups.length;
  const barW = Math.min(38, (groupW - 12) / panel.series.length);
  panel.groups.forEach((group, g) => {
    const gx = left + g * groupW + (groupW - barW * panel.series.length) / 2;
    panel.series.forEach((name, s) => {
      const value = panel.values[g][s];
      const bx = gx + s * barW;
      const note = panel.notes?.[g]?.[s];
      if (!Number.isFinite(value)) {
        parts.push(`<text x="${bx + barW / 2}" y="${top + plotH - 4}" text-anchor="middle" font-size="9" fill="#888">n/a</text>`);
        return;
      }
      const h = (plotH * value) / max;
      parts.push(
        `<rect x="${bx + 1}" y="${top + plotH - h}" width="${barW - 2}" height="${h}" fill="${COLORS[name]}"><title>${escapeXml(`${LABELS[name]}: ${value}`)}</title></rect>`,
      );
      parts.push(`<text x="${bx + barW / 2}" y="${top + plotH - h - 3}" text-anchor="middle" font-size="9">${shortNumber(value)}</text>`);
      if (note !== undefined && note.length > 0) {
        parts.push(`<text x="${bx + barW / 2}" y="${top + plotH - h - 13}" text-anchor="middle" font-size="8" fill="#b00">${escapeXml(note)}</text>`);
      }
    });
    if (panel.groups.length > 1 || group.length > 0) {
      parts.push(`<text x="${left + g * groupW + groupW / 2}" y="${top + plotH + 16}" text-anchor="middle" font-size="11">${escapeXml(group)}</text>`);
    }
  });
  parts.push(`<line x1="${left}" y1="${top + plotH}" x2="${left + plotW}" y2="${top + plotH}" stroke="#333"/>`);
  parts.push("</g>");
  return parts.join("\n");
}

export function renderSvg(results: RunResults): string {
  const all = results.setups.filter((setup) => setup.notAvailable === undefined);
  const allSeries = all.map((setup) => setup.name);
  // Profile setups only hold streams: they appear in the memory panel, not in the delivery ones.
  const ran = all.filter((setup) => !PROFILE_SETUP_NAMES.includes(setup.name));
  const series = ran.map((setup) => setup.name);
  const ns = allN(results);
  const one = (pick: (setup: SetupResult) => number | undefined): number[][] => [ran.map((setup) => pick(setup) ?? NaN)];
  const panels: Panel[] = [
    {
      title: "Idle memory per stream, KB (nginx + Redis, PSS)",
      groups: ns.map((n) => `N = ${kN(n)}`),
      series: allSeries,
      values: ns.map((n) => all.map((setup) => setup.idle?.steps.find((step) => step.n === n)?.pssKbPerStream ?? NaN)),
      notes: ns.map((n) =>
        all.map((setup) => {
          const step = setup.idle?.steps.find((s) => s.n === n);
          return step !== undefined && step.reached < n ? `${kN(Math.round(step.reached / 1000) * 1000)} held` : "";
        }),
      ),
    },
    {
      title: "Redis connections at the largest N held",
      groups: [""],
      series,
      values: one((setup) => setup.idle?.steps[setup.idle.steps.length - 1]?.redisClients),
    },
    { title: "Fan-out burst: deliveries per second", groups: [""], series, values: one((setup) => setup.fanout?.burst.deliveriesPerSecond) },
    {
      title: "Fan-out burst latency, ms",
      groups: ["p50", "p99"],
      series,
      values: [ran.map((setup) => setup.fanout?.burst.latency.p50Ms ?? NaN), ran.map((setup) => setup.fanout?.burst.latency.p99Ms ?? NaN)],
    },
    {
      title: "Fan-out paced latency, ms",
      groups: ["p50", "p99"],
      series,
      values: [ran.map((setup) => setup.fanout?.paced.latency.p50Ms ?? NaN), ran.map((setup) => setup.fanout?.paced.latency.p99Ms ?? NaN)],
    },
    { title: "Many channels: seconds until all delivered", groups: [""], series, values: one((setup) => setup.many?.secondsToAll) },
    { title: "Reconnect storm: seconds until all resubscribed", groups: [""], series, values: one((setup) => setup.storm?.secondsToAll) },
    { title: "Publishing: publishes per second (equal concurrency)", groups: [""], series, values: one((setup) => setup.publish?.requestsPerSecond) },
  ];
  const panelW = 460;
  const panelH = 250;
  // The legend wraps: one row holds as many labels as fit the width.
  const legendItems = [
    ...allSeries.map((name) => ({ text: LABELS[name], color: COLORS[name] as string | undefined })),
    ...results.setups.filter((s) => s.notAvailable !== undefined).map((s) => ({ text: `${LABELS[s.name]}: not available`, color: undefined })),
  ];
  const legendRows: Array<Array<{ text: string; color: string | undefined; x: number }>> = [[]];
  let lx = 15;
  for (const item of legendItems) {
    const w = 30 + item.text.length * 6.5;
    if (lx + w > panelW * 2 + 20 && legendRows[legendRows.length - 1].length > 0) {
      legendRows.push([]);
      lx = 15;
    }
    legendRows[legendRows.length - 1].push({ ...item, x: lx });
    lx += w;
  }
  const legendH = 22 + legendRows.length * 18;
  const width = panelW * 2 + 30;
  const height = legendH + Math.ceil(panels.length / 2) * (panelH + 10) + 44;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="15" y="22" font-size="15" font-weight="bold">${escapeXml(`Pushgate vs Nchan, ${results.machine.date.substring(0, 10)}: ${results.machine.cpus} CPUs, ${results.settings.workers} nginx workers, ${results.machine.nginx}`)}</text>`,
  ];
  legendRows.forEach((row, r) => {
    const y = 30 + r * 18;
    for (const item of row) {
      parts.push(
        item.color !== undefined
          ? `<rect x="${item.x}" y="${y}" width="12" height="12" fill="${item.color}"/><text x="${item.x + 16}" y="${y + 10}" font-size="12">${escapeXml(item.text)}</text>`
          : `<text x="${item.x}" y="${y + 10}" font-size="11" fill="#888">${escapeXml(item.text)}</text>`,
      );
    }
  });
  panels.forEach((panel, i) => {
    parts.push(panelSvg(panel, 10 + (i % 2) * (panelW + 10), legendH + 10 + Math.floor(i / 2) * (panelH + 10), panelW, panelH));
  });
  const command = results.command.length > 150 ? `${results.command.substring(0, 147)}...` : results.command;
  parts.push(`<text x="15" y="${height - 22}" font-size="10" fill="#555">${escapeXml(command)}</text>`);
  parts.push(
    `<text x="15" y="${height - 8}" font-size="10" fill="#555">lower is better except deliveries and publishes per second · details in the .md beside this file</text>`,
  );
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}
