// The gateway's metrics, as every worker counts them: the core calls these hooks (one line each),
// which add to this worker's Lua tables; a timer flushes them to the shared dict once a second
// (one dict write per sample that moved, not one per message), so GET /metrics sees all workers.
// Counters live in the dict under their sample ("name{labels}") and only grow; gauges are per
// worker ("g<worker>|sample", expiring when the worker is gone) and summed when read.
// Two histograms share the buckets: publish → delivery latency ("h|") and the time each store
// operation holds its Redis connection ("r|", host/redis.ts). The flush also hands the recent
// problems (host/problems.ts) to the dict.

import { latencyBucket, LATENCY_BUCKETS } from "../protocol/metrics";
import * as problems from "./problems";

const DICT = "pushgate_metrics";
const FLUSH_EVERY_S = 1;
/** A worker's gauges expire this long after its last flush (a worker gone on reload). */
const GAUGE_TTL_S = 5;
/** Histogram samples in the dict: "h|<bucket>" counts, "h|sum" the sum in ms. */
export const HISTOGRAM_PREFIX = "h|";
/** The Redis command histogram's samples: "r|<bucket>", "r|sum" (ms). */
export const REDIS_PREFIX = "r|";

/** Counter deltas not flushed yet, by sample. */
const pending = new LuaTable<string, number>();
/** This worker's gauges, by sample. */
const gauges = new LuaTable<string, number>();
/** Latency counts per bucket (1-based in Lua through the array type), and their sum (ms). */
const latencyCounts: number[] = [];
for (let i = 0; i <= LATENCY_BUCKETS.length; i++) {
  latencyCounts[i] = 0;
}
let latencySumMs = 0;
let latencyMoved = false;
/** The Redis command histogram: counts per bucket and their sum (ms), as the latency's. */
const redisCounts: number[] = [];
for (let i = 0; i <= LATENCY_BUCKETS.length; i++) {
  redisCounts[i] = 0;
}
let redisSumMs = 0;
let redisMoved = false;
/** Deliveries not flushed yet (a plain number: this counts every message to every client). */
let deliveredCount = 0;
/** The id of the last delivery, and the publish time read from it. */
let lastId: string | undefined;
let lastPublishedMs: number | undefined;

function add(sample: string, delta: number): void {
  pending.set(sample, (pending.get(sample) ?? 0) + delta);
}

/** The transport a stream request uses, by its location (and Accept for /sub). */
function transportOfRequest(): string {
  const uri = ngx.var.get("uri") ?? "";
  if (uri === "/ws") {
    return "websocket";
  }
  if (uri === "/lp") {
    return "longpoll";
  }
  if (uri === "/sse") {
    return "sse";
  }
  const accept = ngx.var.get("http_accept");
  return accept !== undefined && string.find(accept, "text/event-stream", 1, true)[0] !== undefined ? "sse" : "chunked";
}

/** A stream opened (stream/open): counts the connect and the open stream of its transport. */
export function streamOpened(): void {
  const transport = transportOfRequest();
  add(`pushgate_connects_total{transport="${transport}"}`, 1);
  const gauge = `pushgate_streams_open{transport="${transport}"}`;
  gauges.set(gauge, (gauges.get(gauge) ?? 0) + 1);
}

/** The server ends the stream for `reason` (a transport's close): remembered for streamClosed(). */
export function ending(reason: string): void {
  ngx.ctx.set("pushgate_ending", reason);
}

/** A stream's slot released (stream/finish): counts the disconnect by why it ended. */
export function streamClosed(): void {
  // read again from the request, not kept from streamOpened: ngx.ctx would cost every stream a table
  const transport = transportOfRequest();
  const ended = ngx.ctx.get("pushgate_ending") as string | undefined;
  const reason = ended ?? (transport === "longpoll" ? "answered" : "client-gone");
  add(`pushgate_disconnects_total{reason="${reason}",transport="${transport}"}`, 1);
  const gauge = `pushgate_streams_open{transport="${transport}"}`;
  gauges.set(gauge, (gauges.get(gauge) ?? 1) - 1);
}

/** A durable message written to a client (stream/pump): counted, and its latency since the publish (the id's ms part, Redis's clock). */
export function delivered(id: string): void {
  deliveredCount += 1;
  // The hub hands one message to every subscriber in turn: read its publish time once.
  if (id !== lastId) {
    lastId = id;
    const dash = string.find(id, "-", 1, true)[0];
    lastPublishedMs = tonumber(dash !== undefined ? string.sub(id, 1, dash - 1) : id);
  }
  const publishedMs = lastPublishedMs;
  if (publishedMs !== undefined) {
    const ms = math.max(0, ngx.now() * 1000 - publishedMs);
    const bucket = latencyBucket(ms);
    latencyCounts[bucket] += 1;
    latencySumMs += ms;
    latencyMoved = true;
  }
}

/** A publish answered (entry/pub, WebSocket publish frames): by result, "ok" or the failure's kind. */
export function published(failureKind: string | undefined): void {
  add(`pushgate_publishes_total{result="${failureKind ?? "ok"}"}`, 1);
}

/** A request refused (entry/answer): auth failures by kind, every refusal by kind. */
export function refused(kind: string): void {
  if (kind === "unauthorized" || kind === "forbidden") {
    add(`pushgate_auth_failures_total{reason="${kind}"}`, 1);
    problems.note("warn", `${kind}: a request to ${ngx.var.get("uri") ?? "?"} was refused for its credential`);
  }
  add(`pushgate_refusals_total{kind="${kind}"}`, 1);
}

/** A Redis command or connect failed (store/pool): by what failed, and in the recent problems. */
export function redisError(what: string, cause?: string): void {
  add(`pushgate_redis_errors_total{operation="${what}"}`, 1);
  if (what !== "connect") {
    // a failed connect is noted with its cause by host/redis.ts
    problems.note("error", cause !== undefined ? `redis ${what} failed: ${cause}` : `redis ${what} failed`);
  }
}

/** A store operation held its Redis connection for `ms` (host/redis.ts: from connect to release). */
export function redisCommand(ms: number): void {
  const bucket = latencyBucket(ms);
  redisCounts[bucket] += 1;
  redisSumMs += ms;
  redisMoved = true;
}

/** A per-worker gauge set from a timer (not from a request), e.g. the presence counts. */
export function setGauge(sample: string, value: number): void {
  gauges.set(sample, value);
}

function flushHistogram(dict: NgxSharedDict, prefix: string, counts: number[], sumMs: number): void {
  for (let i = 0; i <= LATENCY_BUCKETS.length; i++) {
    if (counts[i] > 0) {
      dict.incr(`${prefix}${i}`, counts[i], 0);
      counts[i] = 0;
    }
  }
  dict.incr(`${prefix}sum`, sumMs, 0);
}

/** Writes this worker's counts to the shared dict. */
export function flush(): void {
  const dict = ngx.shared.get(DICT);
  if (dict === undefined) {
    return;
  }
  if (deliveredCount > 0) {
    add("pushgate_messages_delivered_total", deliveredCount);
    deliveredCount = 0;
  }
  for (const [sample, delta] of pending) {
    dict.incr(sample, delta, 0);
    pending.delete(sample);
  }
  const worker = ngx.worker.id() ?? 0;
  for (const [sample, value] of gauges) {
    dict.set(`g${worker}|${sample}`, value, GAUGE_TTL_S);
  }
  if (latencyMoved) {
    latencyMoved = false;
    flushHistogram(dict, HISTOGRAM_PREFIX, latencyCounts, latencySumMs);
    latencySumMs = 0;
  }
  if (redisMoved) {
    redisMoved = false;
    flushHistogram(dict, REDIS_PREFIX, redisCounts, redisSumMs);
    redisSumMs = 0;
  }
  problems.flush(dict);
}

function flushTimer(this: void, premature: boolean): void {
  if (!premature) {
    flush();
  }
}

/** init_worker: flush this worker's counts once a second. */
export function start(): void {
  const [ok, err] = ngx.timer.every(FLUSH_EVERY_S, flushTimer);
  if (ok === undefined) {
    ngx.log(ngx.ERR, "failed to start the metrics timer: ", err);
  }
}

/** A histogram as read from the dict: counts per bucket (not cumulative) and their sum (ms). */
export interface Histogram {
  counts: number[];
  sumMs: number;
}

function emptyHistogram(): Histogram {
  const counts: number[] = [];
  for (let i = 0; i <= LATENCY_BUCKETS.length; i++) {
    counts[i] = 0;
  }
  return { counts, sumMs: 0 };
}

function readBucket(histogram: Histogram, which: string, value: number): void {
  if (which === "sum") {
    histogram.sumMs = value;
  } else {
    histogram.counts[tonumber(which) ?? LATENCY_BUCKETS.length] = value;
  }
}

/**
 * Every sample in the dict (this worker flushed first): counters and summed gauges by sample, the
 * delivery latency histogram and the Redis command one.
 */
export function read(): LuaMultiReturn<[LuaTable<string, number>, Histogram, Histogram]> {
  flush();
  const samples = new LuaTable<string, number>();
  const latency = emptyHistogram();
  const redisTime = emptyHistogram();
  const dict = ngx.shared.get(DICT);
  if (dict === undefined) {
    return $multi(samples, latency, redisTime);
  }
  for (const key of dict.get_keys(0)) {
    const [value] = dict.get(key);
    if (typeof value === "number" && !key.startsWith(problems.PREFIX)) {
      if (key.startsWith(HISTOGRAM_PREFIX)) {
        readBucket(latency, key.substring(HISTOGRAM_PREFIX.length), value);
      } else if (key.startsWith(REDIS_PREFIX)) {
        readBucket(redisTime, key.substring(REDIS_PREFIX.length), value);
      } else if (key.startsWith("g")) {
        const bar = key.indexOf("|");
        const sample = key.substring(bar + 1);
        samples.set(sample, (samples.get(sample) ?? 0) + value);
      } else {
        samples.set(key, value);
      }
    }
  }
  return $multi(samples, latency, redisTime);
}
