// The workloads, each run against a freshly started server and bounded in count and time:
//   idle      memory per idle stream at each N, and Redis connections
//   fanout    one channel, many subscribers: a burst, then a paced series
//   many      one subscriber on each of many channels, one message each
//   storm     every client drops and reconnects at once
//   publish   publishing throughput: a closed loop of C connections publishing to a channel with a
//             few subscribers, each setup its own way (HTTP POST, or Redis PUBLISH / FCALL)
// Each returns plain data (kept as JSON) for bench/lib/report.ts. A publish the server refused is
// never counted as a delivery figure: publishFailures() lists them and the runner fails the workload.

import { existsSync, readFileSync, statSync } from "node:fs";
import { STREAMS_PER_SOURCE } from "./capacity";
import { AddressPool, Fleet } from "./fleet";
import { Histogram, HistogramData } from "./histogram";
import { cpuBetween, cpuSnapshot, Memory } from "./machine";
import { OpenCommand, OpenReply, PublishReply, StatusReply, StormReply, WaitReply } from "./protocol";
import { PublishResult, Server, ServerMemory } from "./setups";

export type WorkloadName = "idle" | "fanout" | "many" | "storm" | "publish";
export const WORKLOAD_NAMES: WorkloadName[] = ["idle", "fanout", "many", "storm", "publish"];

export interface WorkloadOptions {
  idleN: number[];
  /** Streams per channel in the idle workload (1: every stream its own channel). */
  idleStreamsPerChannel: number;
  fanoutSubscribers: number;
  burstMessages: number;
  pacedRate: number;
  pacedSeconds: number;
  manyChannels: number;
  stormClients: number;
  /** Publish workload: subscribers of its channel, publisher connections, publishes, time bound. */
  publishSubscribers: number;
  publishConnections: number;
  publishCount: number;
  publishSeconds: number;
  payloadBytes: number;
  /** Sockets per load-generator process (below the 20,000 open files a process may have). */
  perProcess: number;
  /** Connection attempts in flight over all load-generator processes while ramping up. */
  connectConcurrency: number;
  /** A process's opening gives up after 30 s + this many ms per stream. */
  openMsPerStream: number;
  /** The idle workload opens streams in chunks of at most this many, pausing between them. */
  rampChunk: number;
  settleMs: number;
}

export interface Context {
  server: Server;
  addresses: AddressPool;
  options: WorkloadOptions;
  workers: number;
  log: (message: string) => void;
}

export interface Latency {
  count: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

function latencyOf(histogram: Histogram): Latency {
  return {
    count: histogram.count,
    p50Ms: histogram.percentile(0.5) / 1000,
    p99Ms: histogram.percentile(0.99) / 1000,
    maxMs: histogram.max / 1000,
  };
}

/** CPU seconds per process group over an interval, with its wall time. */
export type CpuUse = Record<string, number>;

/** Starts measuring CPU; the returned function ends the interval. */
function cpuMeter(server: Server, fleet: Fleet, publishers?: Fleet): () => CpuUse {
  const before = cpuSnapshot();
  const started = Date.now();
  return () => {
    const processes = server.processes();
    const use = cpuBetween(before, cpuSnapshot(), {
      nginx: processes.nginx,
      redis: processes.redis,
      loadgen: [...fleet.pids(), ...(publishers?.pids() ?? [])],
      runner: [process.pid, process.ppid],
    });
    use.wall = (Date.now() - started) / 1000;
    return use;
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

function addCounts(into: Record<string, number>, from: Record<string, number>): void {
  for (const [key, n] of Object.entries(from)) {
    into[key] = (into[key] ?? 0) + n;
  }
}

/** Where the error log is now, to read only what a step adds. */
function logOffset(path: string): number {
  return existsSync(path) ? statSync(path).size : 0;
}

/** The most frequent error-log messages written since `offset`, with counts (timestamps, pids and clients stripped). */
export function logSummary(path: string, offset: number, top = 3): string[] {
  if (!existsSync(path)) {
    return [];
  }
  const text = readFileSync(path).subarray(offset).toString("utf8");
  const counts: Record<string, number> = {};
  for (const line of text.split("\n")) {
    if (line.trim().length === 0) {
      continue;
    }
    const message = line
      .replace(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d /, "")
      .replace(/\d+#\d+: (\*\d+ )?/, "")
      .replace(/, client: .*$/, "")
      // eslint-disable-next-line no-control-regex -- error-log lines can carry raw control bytes
      .replace(/[\x00-\x08\x0e-\x1f]+/g, "…")
      .replace(/\b(?<!signal )\d+(\.\d+)?\b/g, "N")
      .substring(0, 200);
    counts[message] = (counts[message] ?? 0) + 1;
  }
  return Object.entries(counts)
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([message, n]) => `${n} × ${message}`);
}

/** Splits `total` over `parts` as evenly as possible. */
function shares(total: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, i) => Math.floor(total / parts) + (i < total % parts ? 1 : 0));
}

/** A concurrency larger than any batch (Infinity does not survive IPC's JSON). */
const ALL_AT_ONCE = 1e9;

function fleetSize(clients: number, options: WorkloadOptions): number {
  return Math.max(2, Math.ceil(clients / options.perProcess));
}

interface OpenSpec {
  channelPrefix: string;
  perChannel: number;
  retries?: number;
  timeoutMs?: number;
  /** Another path than the server's subscribe path (the storm's floor asks for /healthz). */
  pathTemplate?: string;
  /** Attempts in flight per process; default options.connectConcurrency shared over the fleet. */
  concurrency?: number;
}

interface OpenTotals {
  subscribed: number;
  alive: number;
  failures: Record<string, number>;
  retried: number;
  seconds: number;
  /** First command start and last 200 over all processes (shared clock). */
  startedMicros: number;
  lastSubscribedMicros: number;
}

/** Opens counts[i] more streams on generator i; `first` is the index of the first new stream overall. */
async function openStreams(context: Context, fleet: Fleet, counts: number[], first: number, spec: OpenSpec): Promise<OpenTotals> {
  const { server, options } = context;
  const started = Date.now();
  let next = first;
  const replies = await fleet.all<OpenReply>((i) => {
    if (counts[i] <= 0) {
      return undefined;
    }
    const command: OpenCommand = {
      kind: "open",
      count: counts[i],
      first: next,
      targets: server.targets,
      sources: context.addresses.take(Math.max(1, Math.ceil(counts[i] / STREAMS_PER_SOURCE))),
      pathTemplate: spec.pathTemplate ?? server.pathTemplate,
      channelPrefix: spec.channelPrefix,
      perChannel: spec.perChannel,
      headers: server.headers,
      concurrency: spec.concurrency ?? Math.max(1, Math.ceil(options.connectConcurrency / fleet.size)),
      retries: spec.retries ?? 0,
      retryDelayMs: 100,
      // 10 ms per stream by default: 16,000 streams of a process get 190 s (bench:400k gives 40 ms:
      // there 25 processes share two cores with the servers).
      timeoutMs: spec.timeoutMs ?? 30000 + counts[i] * options.openMsPerStream,
    };
    next += counts[i];
    return command;
  });
  const totals: OpenTotals = {
    subscribed: 0,
    alive: 0,
    failures: {},
    retried: 0,
    seconds: (Date.now() - started) / 1000,
    startedMicros: Math.min(...replies.map((r) => r.startedMicros)),
    lastSubscribedMicros: Math.max(0, ...replies.map((r) => r.lastSubscribedMicros)),
  };
  for (const reply of replies) {
    totals.subscribed += reply.subscribed;
    totals.retried += reply.retried;
    addCounts(totals.failures, reply.failures);
  }
  const statuses = await fleet.all<StatusReply>(() => ({ kind: "status" }));
  totals.alive = statuses.reduce((sum, s) => sum + s.alive, 0);
  return totals;
}

interface Delivery {
  expected: number;
  delivered: number;
  stale: number;
  firstDeliveryMicros: number;
  lastDeliveryMicros: number;
  latency: Histogram;
}

/** Watches `epoch` on every generator, runs `publish`, then waits for perStream messages per stream. */
async function deliver(
  fleet: Fleet,
  epoch: number,
  perStream: number,
  timeoutMs: number,
  publish: () => Promise<PublishResult>,
): Promise<{ published: PublishResult; delivery: Delivery }> {
  await fleet.all(() => ({ kind: "watch", epoch }));
  const published = await publish();
  // Refused publishes void the figure (the runner fails the workload): no point waiting long for them.
  const refused = Object.keys(published.failed).length > 0;
  const replies = await fleet.all<WaitReply>(() => ({ kind: "wait", perStream, timeoutMs: refused ? Math.min(timeoutMs, 3000) : timeoutMs }));
  const firsts = replies.filter((r) => r.firstDeliveryMicros > 0).map((r) => r.firstDeliveryMicros);
  return {
    published,
    delivery: {
      expected: replies.reduce((sum, r) => sum + r.expected, 0),
      delivered: replies.reduce((sum, r) => sum + r.deliveries, 0),
      stale: replies.reduce((sum, r) => sum + r.stale, 0),
      firstDeliveryMicros: firsts.length > 0 ? Math.min(...firsts) : 0,
      lastDeliveryMicros: Math.max(0, ...replies.map((r) => r.lastDeliveryMicros)),
      latency: Histogram.fromData(replies.map((r) => r.latency)),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// idle memory per stream

export interface IdleStep {
  n: number;
  reached: number;
  failures: Record<string, number>;
  rampSeconds: number;
  nginx: Memory;
  redis: Memory;
  nginxProcesses: number;
  /** (nginx + Redis − baseline) / reached, from PSS (each page counted once) and from summed RSS. */
  pssKbPerStream: number;
  rssKbPerStream: number;
  nginxPssKbPerStream: number;
  redisPssKbPerStream: number;
  redisClients: number;
  /** Why the step fell short of N (failures and the error log's most frequent lines). */
  shortfall?: string[];
}

export interface IdleResult {
  baseline: ServerMemory;
  baselineRedisClients: number;
  processes: number;
  steps: IdleStep[];
  /** N values not attempted because a smaller N already fell short. */
  skipped: number[];
}

export async function idle(context: Context): Promise<IdleResult> {
  const { server, options } = context;
  const targetsN = [...options.idleN].sort((a, b) => a - b);
  const fleet = Fleet.start(fleetSize(targetsN[targetsN.length - 1], options));
  try {
    // Warm-up: every worker loads its code and sets up its pools before the baseline is taken.
    const warm = await openStreams(context, fleet, shares(context.workers * 8, fleet.size), 0, { channelPrefix: "warm-", perChannel: 1 });
    if (server.delivers) {
      await server.publish(["warm-0"], 0, 0, options.payloadBytes);
    }
    await fleet.all(() => ({ kind: "close" }));
    context.log(`warm-up: ${warm.subscribed} streams opened and closed`);
    await sleep(options.settleMs);

    const baseline = server.memory();
    const baselineRedisClients = await server.redisClients();
    const result: IdleResult = { baseline, baselineRedisClients, processes: fleet.size, steps: [], skipped: [] };
    let held = shares(0, fleet.size);
    let first = 1000000;
    for (const n of targetsN) {
      if (result.steps.some((step) => step.reached < step.n)) {
        result.skipped.push(n);
        continue;
      }
      const wanted = shares(n, fleet.size);
      const more = wanted.map((w, i) => Math.max(0, w - held[i]));
      const total = more.reduce((a, b) => a + b, 0);
      const offset = logOffset(server.errorLog);
      context.log(`idle: opening ${total} more streams towards ${n}`);
      // In chunks: the figure is memory held, not how fast a server takes a flood of subscribers.
      const opened: OpenTotals = { subscribed: 0, alive: 0, failures: {}, retried: 0, seconds: 0, startedMicros: 0, lastSubscribedMicros: 0 };
      for (let done = 0; done < total;) {
        const remaining = total - done;
        const chunk = Math.min(options.rampChunk, remaining);
        const counts = more.map((m) => Math.min(m, Math.ceil((m * chunk) / remaining)));
        const opening = counts.reduce((a, b) => a + b, 0);
        if (opening === 0) {
          break;
        }
        const step = await openStreams(context, fleet, counts, first, { channelPrefix: "idle-", perChannel: options.idleStreamsPerChannel });
        counts.forEach((c, i) => (more[i] -= c));
        first += opening;
        done += opening;
        opened.subscribed += step.subscribed;
        opened.seconds += step.seconds;
        addCounts(opened.failures, step.failures);
        if (step.subscribed < opening) {
          break; // the server refuses streams: the step is short, no point pushing on
        }
        await sleep(500);
      }
      await sleep(options.settleMs);
      const statuses = await fleet.all<StatusReply>(() => ({ kind: "status" }));
      held = statuses.map((s) => s.alive);
      const reached = held.reduce((a, b) => a + b, 0);
      const memory = server.memory();
      const redisClients = await server.redisClients();
      const failures = { ...opened.failures };
      for (const s of statuses) {
        for (const [reason, k] of Object.entries(s.ended)) {
          failures[`ended after 200: ${reason}`] = k;
        }
      }
      const perStream = (now: number, base: number): number => (reached > 0 ? (now - base) / reached : NaN);
      const step: IdleStep = {
        n,
        reached,
        failures,
        rampSeconds: opened.seconds,
        nginx: memory.nginx,
        redis: memory.redis,
        nginxProcesses: memory.nginxProcesses,
        pssKbPerStream: perStream(memory.nginx.pssKb + memory.redis.pssKb, baseline.nginx.pssKb + baseline.redis.pssKb),
        rssKbPerStream: perStream(memory.nginx.rssKb + memory.redis.rssKb, baseline.nginx.rssKb + baseline.redis.rssKb),
        nginxPssKbPerStream: perStream(memory.nginx.pssKb, baseline.nginx.pssKb),
        redisPssKbPerStream: perStream(memory.redis.pssKb, baseline.redis.pssKb),
        redisClients,
      };
      if (reached < n) {
        const reasons = Object.entries(failures).map(([reason, k]) => `${k} × ${reason}`);
        step.shortfall = [...reasons, ...logSummary(server.errorLog, offset).map((line) => `error log: ${line}`)];
      }
      context.log(`idle: N=${n} reached ${reached}, ${step.pssKbPerStream.toFixed(2)} KB/stream (PSS), ${redisClients} Redis clients`);
      result.steps.push(step);
    }
    await fleet.all(() => ({ kind: "close" }));
    return result;
  } finally {
    await fleet.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// fan-out

export interface FanoutRound {
  messages: number;
  cpu: CpuUse;
  expected: number;
  delivered: number;
  publishFailures: Record<string, number>;
  seconds: number;
  deliveriesPerSecond: number;
  latency: Latency;
}

export interface FanoutResult {
  subscribers: number;
  subscribed: number;
  failures: Record<string, number>;
  primerDelivered: number;
  primerPublishFailures?: Record<string, number>;
  burst: FanoutRound;
  paced: FanoutRound & { rate: number };
  redisClients: number;
}

function round(messages: number, published: PublishResult, delivery: Delivery, endMicros: number, cpu: CpuUse): FanoutRound {
  const seconds = (endMicros - published.firstSentMicros) / 1e6;
  return {
    messages,
    cpu,
    expected: delivery.expected,
    delivered: delivery.delivered,
    publishFailures: published.failed,
    seconds,
    deliveriesPerSecond: seconds > 0 ? delivery.delivered / seconds : 0,
    latency: latencyOf(delivery.latency),
  };
}

export async function fanout(context: Context): Promise<FanoutResult> {
  const { server, options } = context;
  const channel = "fan-0";
  const fleet = Fleet.start(fleetSize(options.fanoutSubscribers, options));
  try {
    const opened = await openStreams(context, fleet, shares(options.fanoutSubscribers, fleet.size), 0, { channelPrefix: "fan-", perChannel: 0 });
    context.log(`fanout: ${opened.alive} subscribers`);
    await sleep(options.settleMs);
    const redisClients = await server.redisClients();

    // A primer message proves every subscription is live before anything is timed.
    const primer = await deliver(fleet, 1, 1, 10000 + options.fanoutSubscribers * 0.05, () => server.publish([channel], 1, 0, options.payloadBytes));

    const burstChannels = Array.from({ length: options.burstMessages }, () => channel);
    const burstTimeout = 30000 + options.burstMessages * options.fanoutSubscribers * 0.05;
    const burstCpu = cpuMeter(server, fleet);
    const burst = await deliver(fleet, 2, options.burstMessages, burstTimeout, () => server.publish(burstChannels, 2, 0, options.payloadBytes));
    const burstUse = burstCpu();
    context.log(`fanout burst: ${burst.delivery.delivered}/${burst.delivery.expected} delivered`);

    const pacedCount = Math.round(options.pacedRate * options.pacedSeconds);
    const interval = 1000 / options.pacedRate;
    const pacedCpu = cpuMeter(server, fleet);
    const paced = await deliver(fleet, 3, pacedCount, 15000 + options.fanoutSubscribers * 0.05, async () => {
      const start = Date.now();
      const failed: Record<string, number> = {};
      let firstSentMicros = 0;
      for (let i = 0; i < pacedCount; i++) {
        const wait = start + i * interval - Date.now();
        if (wait > 0) {
          await sleep(wait);
        }
        const one = await server.publish([channel], 3, i, options.payloadBytes);
        firstSentMicros = firstSentMicros || one.firstSentMicros;
        addCounts(failed, one.failed);
      }
      return { sent: pacedCount, failed, firstSentMicros };
    });
    const pacedUse = pacedCpu();
    context.log(`fanout paced: ${paced.delivery.delivered}/${paced.delivery.expected} delivered`);
    await fleet.all(() => ({ kind: "close" }));
    return {
      subscribers: options.fanoutSubscribers,
      subscribed: opened.alive,
      failures: opened.failures,
      primerDelivered: primer.delivery.delivered,
      primerPublishFailures: primer.published.failed,
      burst: round(options.burstMessages, burst.published, burst.delivery, burst.delivery.lastDeliveryMicros, burstUse),
      paced: { ...round(pacedCount, paced.published, paced.delivery, paced.delivery.lastDeliveryMicros, pacedUse), rate: options.pacedRate },
      redisClients,
    };
  } finally {
    await fleet.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// many channels

export interface ManyResult {
  channels: number;
  subscribed: number;
  failures: Record<string, number>;
  expected: number;
  delivered: number;
  publishFailures: Record<string, number>;
  /** From the first publish to the last delivery. */
  secondsToAll: number;
  latency: Latency;
  redisClients: number;
  cpu: CpuUse;
}

function channelList(prefix: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${i}`);
}

export async function many(context: Context): Promise<ManyResult> {
  const { server, options } = context;
  const n = options.manyChannels;
  const fleet = Fleet.start(fleetSize(n, options));
  try {
    const opened = await openStreams(context, fleet, shares(n, fleet.size), 0, { channelPrefix: "many-", perChannel: 1 });
    context.log(`many: ${opened.alive} subscribers on ${n} channels`);
    await sleep(options.settleMs);
    const redisClients = await server.redisClients();
    const manyCpu = cpuMeter(server, fleet);
    const { published, delivery } = await deliver(fleet, 1, 1, 60000, () => server.publish(channelList("many-", n), 1, 0, options.payloadBytes));
    const cpu = manyCpu();
    context.log(`many: ${delivery.delivered}/${delivery.expected} delivered`);
    await fleet.all(() => ({ kind: "close" }));
    return {
      channels: n,
      subscribed: opened.alive,
      failures: opened.failures,
      expected: delivery.expected,
      delivered: delivery.delivered,
      publishFailures: published.failed,
      secondsToAll: delivery.lastDeliveryMicros > 0 ? (delivery.lastDeliveryMicros - published.firstSentMicros) / 1e6 : NaN,
      latency: latencyOf(delivery.latency),
      redisClients,
      cpu,
    };
  } finally {
    await fleet.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// reconnect storm

export interface StormResult {
  clients: number;
  subscribed: number;
  dropped: number;
  resubscribed: number;
  failures: Record<string, number>;
  retried: number;
  /** From the drop to the last client's 200 status line. */
  secondsToAll: number;
  resubscribe: Latency;
  /**
   * The load generator's own share: the same clients, connecting at once to /healthz (answered
   * by nginx without any module), from the first connect to the last 200.
   */
  floorSeconds: number;
  cpu: CpuUse;
  /** One message per channel after the storm: how many resubscribed streams got it. */
  deliveredAfter: number;
  expectedAfter: number;
  publishFailures?: Record<string, number>;
  shortfall?: string[];
}

export async function storm(context: Context): Promise<StormResult> {
  const { server, options } = context;
  const n = options.stormClients;
  const fleet = Fleet.start(fleetSize(n, options));
  try {
    const opened = await openStreams(context, fleet, shares(n, fleet.size), 0, { channelPrefix: "storm-", perChannel: 1 });
    context.log(`storm: ${opened.alive} clients subscribed`);
    await sleep(options.settleMs);
    const offset = logOffset(server.errorLog);
    const stormCpu = cpuMeter(server, fleet);
    const replies = await fleet.all<StormReply>(() => ({
      kind: "storm",
      sources: context.addresses.take(Math.max(2, Math.ceil(options.perProcess / STREAMS_PER_SOURCE))),
      retries: 50,
      retryDelayMs: 100,
      timeoutMs: 120000,
    }));
    const cpu = stormCpu();
    const failures: Record<string, number> = {};
    replies.forEach((r) => addCounts(failures, r.failures));
    const subscribeTimes: HistogramData[] = replies.map((r) => r.subscribeTimes);
    const resubscribed = replies.reduce((sum, r) => sum + r.subscribed, 0);
    const started = Math.min(...replies.map((r) => r.startedMicros));
    const last = Math.max(...replies.map((r) => r.lastSubscribedMicros));
    context.log(`storm: ${resubscribed} resubscribed in ${((last - started) / 1e6).toFixed(2)} s`);
    await sleep(options.settleMs);
    const after = await deliver(fleet, 9, 1, 30000, () => server.publish(channelList("storm-", n), 9, 0, options.payloadBytes));
    await fleet.all(() => ({ kind: "close" }));
    // The clients' own share, measured after the storm so their code is as warm as during it.
    const floor = await openStreams(context, fleet, shares(n, fleet.size), 0, {
      channelPrefix: "floor-",
      perChannel: 1,
      pathTemplate: "/healthz",
      concurrency: ALL_AT_ONCE,
    });
    await fleet.all(() => ({ kind: "close" }));
    const floorSeconds = floor.subscribed === n ? (floor.lastSubscribedMicros - floor.startedMicros) / 1e6 : NaN;
    context.log(`storm: the load generator's floor: ${n} requests to /healthz at once took ${floorSeconds.toFixed(2)} s`);
    const result: StormResult = {
      clients: n,
      subscribed: opened.alive,
      dropped: replies.reduce((sum, r) => sum + r.dropped, 0),
      resubscribed,
      failures,
      retried: replies.reduce((sum, r) => sum + r.retried, 0),
      secondsToAll: resubscribed > 0 && last > 0 ? (last - started) / 1e6 : NaN,
      resubscribe: latencyOf(Histogram.fromData(subscribeTimes)),
      floorSeconds,
      cpu,
      deliveredAfter: after.delivery.delivered,
      expectedAfter: n,
      publishFailures: after.published.failed,
    };
    if (resubscribed < result.dropped || Object.keys(failures).length > 0) {
      result.shortfall = logSummary(server.errorLog, offset).map((line) => `error log: ${line}`);
    }
    return result;
  } finally {
    await fleet.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// publishing throughput

export interface PublishThroughput {
  /** How the setup publishes (its own way: POST, or a Redis command from the load generator). */
  way: string;
  connections: number;
  subscribers: number;
  subscribed: number;
  requested: number;
  sent: number;
  completed: number;
  failures: Record<string, number>;
  stoppedAtTimeBound: boolean;
  /** HTTP connections reopened after the server closed one (nginx's keepalive_requests). */
  reconnects: number;
  /** From the first publish sent to the last answer. */
  seconds: number;
  requestsPerSecond: number;
  /** Round trip of each publish. */
  latency: Latency;
  /** From the first publish to the last delivery (the CPU interval). */
  cpu: CpuUse;
  expected: number;
  delivered: number;
  deliveryLatency: Latency;
}

/** The publish way as a label: "POST /pub?channel={channel}", "Redis FCALL from the load generator". */
function wayLabel(server: Server): string {
  const way = server.publishWay;
  return way.kind === "http" ? `POST ${way.pathTemplate}, keep-alive` : `Redis ${way.command === "FCALL" ? "FCALL pushgate_publish" : "PUBLISH"} over RESP`;
}

export async function publish(context: Context): Promise<PublishThroughput> {
  const { server, options } = context;
  const channel = "tp-0";
  const fleet = Fleet.start(fleetSize(options.publishSubscribers, options));
  const publishers = Fleet.start(1);
  try {
    const opened = await openStreams(context, fleet, shares(options.publishSubscribers, fleet.size), 0, { channelPrefix: "tp-", perChannel: 0 });
    context.log(`publish: ${opened.alive} subscribers`);
    await sleep(options.settleMs);
    const primer = await deliver(fleet, 1, 1, 10000, () => server.publish([channel], 1, 0, options.payloadBytes));
    if (Object.keys(primer.published.failed).length > 0) {
      throw new Error(`the primer publish was refused: ${JSON.stringify(primer.published.failed)}`);
    }
    await fleet.all(() => ({ kind: "watch", epoch: 2 }));
    const meter = cpuMeter(server, fleet, publishers);
    const [reply] = await publishers.all<PublishReply>((i) =>
      i === 0
        ? {
            kind: "publish",
            way: server.publishWay,
            channel,
            connections: options.publishConnections,
            count: options.publishCount,
            epoch: 2,
            payloadBytes: options.payloadBytes,
            seconds: options.publishSeconds,
          }
        : undefined,
    );
    const waited = await fleet.all<WaitReply>(() => ({
      kind: "wait",
      perStream: reply.completed,
      timeoutMs: 30000 + reply.completed * options.publishSubscribers * 0.02,
    }));
    const cpu = meter();
    const seconds = (reply.endedMicros - reply.startedMicros) / 1e6;
    const delivered = waited.reduce((sum, r) => sum + r.deliveries, 0);
    const expected = waited.reduce((sum, r) => sum + r.expected, 0);
    context.log(
      `publish: ${reply.completed}/${options.publishCount} in ${seconds.toFixed(2)} s (${Math.round(reply.completed / seconds)}/s), ${delivered}/${expected} delivered`,
    );
    await fleet.all(() => ({ kind: "close" }));
    return {
      way: wayLabel(server),
      connections: options.publishConnections,
      subscribers: options.publishSubscribers,
      subscribed: opened.alive,
      requested: options.publishCount,
      sent: reply.sent,
      completed: reply.completed,
      failures: reply.failures,
      stoppedAtTimeBound: reply.stoppedAtTimeBound,
      reconnects: reply.reconnects,
      seconds,
      requestsPerSecond: seconds > 0 ? reply.completed / seconds : 0,
      latency: latencyOf(Histogram.fromData([reply.latency])),
      cpu,
      expected,
      delivered,
      deliveryLatency: latencyOf(Histogram.fromData(waited.map((r) => r.latency))),
    };
  } finally {
    await Promise.all([fleet.stop(), publishers.stop()]);
  }
}

/** Every refused or unanswered publish of a workload's result, by reason (empty: none). */
export function publishFailures(result: {
  fanout?: FanoutResult;
  many?: ManyResult;
  storm?: StormResult;
  publish?: PublishThroughput;
}): Record<string, number> {
  const all: Record<string, number> = {};
  for (const table of [
    result.fanout?.primerPublishFailures,
    result.fanout?.burst.publishFailures,
    result.fanout?.paced.publishFailures,
    result.many?.publishFailures,
    result.storm?.publishFailures,
    result.publish?.failures,
  ]) {
    addCounts(all, table ?? {});
  }
  return all;
}
