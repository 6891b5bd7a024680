// Worker statistics: each worker writes its hub counters to a shared dict once a second; GET
// /status reads every worker's entry, so one request sees the whole gateway, with what the
// metrics count (streams by transport, deliveries, presence), whether Redis answers, and the
// recent problems (host/problems.ts) the status page (admin/) lists. The same timer sets this
// worker's presence gauges and notes its hub losing or getting back its Redis connection.

import * as cjson from "cjson";
import { constantTimeEquals } from "../auth/compare";
import type { Settings } from "../config/schema";
import * as hub from "../hub/hub";
import { Failure } from "../protocol/failure";
import type { GatewayStatus, HubStats, RedisState, WorkerStatus } from "../protocol/status";
import { uriArgs } from "../host/http";
import * as metrics from "../host/metrics";
import * as problems from "../host/problems";
import * as settingsHolder from "../host/settings";
import * as access from "../policy/access";
import * as servers from "../store/servers";
import * as presence from "../store/presence";
import { failWith } from "./answer";
import { credentialsOf } from "./request";

const DICT = "pushgate";
const PUBLISH_EVERY_S = 1;
/** An entry older than this belonged to a worker that is gone (reload). */
const ENTRY_TTL_S = 5;

/** This worker's hub at the last tick: whether it held its Redis connection (undefined: never yet), its reconnects. */
let hubWasConnected: boolean | undefined;
let hubReconnects = 0;

/** Notes the hub losing its Redis connection, and getting it back, among the recent problems. */
function noteHub(stats: HubStats): void {
  const worker = ngx.worker.id() ?? 0;
  // the hub counts a reconnect when its connection is lost: seen even when it came back between two ticks
  if (stats.reconnects > hubReconnects || (hubWasConnected === true && !stats.connected)) {
    problems.note("error", `hub of worker ${worker}: lost its redis connection`);
  }
  if (hubWasConnected === false && stats.connected) {
    problems.note("warn", `hub of worker ${worker}: connected to redis again`);
  }
  hubReconnects = stats.reconnects;
  if (stats.connected || hubWasConnected !== undefined) {
    hubWasConnected = stats.connected;
  }
}

function publish(this: void, premature: boolean): void {
  if (premature) {
    return;
  }
  const dict = ngx.shared.get(DICT);
  if (dict === undefined) {
    return;
  }
  const stats = hub.stats();
  // luaKb: the worker's Lua heap, garbage not yet collected included (what idle streams cost in Lua)
  const luaKb = math.floor(collectgarbage("count"));
  const entry: WorkerStatus = { worker: ngx.worker.id() ?? 0, pid: ngx.worker.pid(), luaKb, ...stats };
  dict.set(`worker:${ngx.worker.id() ?? 0}`, cjson.encode(entry), ENTRY_TTL_S);
}

/** The timer's work: this worker's entry, its presence gauges (a walk of its connections: here, not per request) and its hub's changes. */
function tick(this: void, premature: boolean): void {
  if (premature) {
    return;
  }
  const [connections, users] = presence.localCounts();
  metrics.setGauge("pushgate_presence_connections", connections);
  metrics.setGauge("pushgate_presence_users", users);
  if (settingsHolder.get().mode === "shared") {
    noteHub(hub.stats());
  }
  publish(false);
}

/** Writes this worker's entry now (the hub just connected: readiness need not wait for the timer). */
export function report(): void {
  publish(false);
}

/** init_worker: start publishing this worker's statistics. */
export function start(): void {
  publish(false);
  const [ok, err] = ngx.timer.every(PUBLISH_EVERY_S, tick);
  if (ok === undefined) {
    ngx.log(ngx.ERR, "failed to start the statistics timer: ", err);
  }
}

/** Every worker's latest entry, by worker id (this worker's refreshed first). */
export function workerEntries(): LuaMap<number, WorkerStatus> {
  publish(false);
  const entries = new LuaMap<number, WorkerStatus>();
  const dict = ngx.shared.get(DICT);
  for (let id = 0; id < ngx.worker.count() && dict !== undefined; id++) {
    const [text] = dict.get(`worker:${id}`);
    if (typeof text === "string") {
      entries.set(id, cjson.decode(text) as WorkerStatus);
    }
  }
  return entries;
}

/** /status and /metrics: the admin key (PUSHGATE_ADMIN_KEY) may read them, else as the operator (access.forOperator). */
export function forAdmin(settings: Settings): LuaMultiReturn<[true] | [undefined, Failure]> {
  const credentials = credentialsOf(settings, uriArgs());
  const token = credentials.token;
  if (settings.adminKey.length > 0 && token !== undefined && constantTimeEquals(token, settings.adminKey)) {
    return $multi(true);
  }
  return access.forOperator(settings, credentials);
}

/** Sums the samples of `name` by the value of their one label (`transport="sse"` → sse). */
function byLabel(samples: LuaTable<string, number>, name: string): Record<string, number> {
  const found: Record<string, number> = {};
  for (const [key, value] of samples) {
    if (key.startsWith(`${name}{`)) {
      const quote = key.indexOf('"');
      const label = key.substring(quote + 1, key.indexOf('"', quote + 1));
      found[label] = (found[label] ?? 0) + value;
    }
  }
  return found;
}

function redisState(settings: Settings, commands: number, sumMs: number): RedisState {
  const [answered, err] = servers.ping(settings);
  const state: RedisState = { ok: answered !== undefined, commands, meanMs: commands > 0 ? math.floor((sumMs / commands) * 1000) / 1000 : 0 };
  if (answered === undefined) {
    state.error = err;
  }
  return state;
}

/** content_by_lua of GET /status: with credentials on, only for the publisher key or the admin key. */
export function handle(): void {
  const settings = settingsHolder.get();
  const [allowed, refusal] = forAdmin(settings);
  if (allowed === undefined) {
    return failWith(settings, refusal);
  }
  const workers: WorkerStatus[] = [];
  const totals: Record<string, number> = { channels: 0, subscribers: 0, messages: 0, reconnects: 0, notices: 0, dropped: 0, overflows: 0, luaKb: 0 };
  const entries = workerEntries();
  for (let id = 0; id < ngx.worker.count(); id++) {
    const entry = entries.get(id);
    if (entry !== undefined) {
      workers.push(entry);
      const counts = entry as unknown as Record<string, number>;
      for (const key of Object.keys(totals)) {
        totals[key] += counts[key] ?? 0;
      }
    }
  }
  const [samples, , redisTime] = metrics.read();
  let commands = 0;
  for (const count of redisTime.counts) {
    commands += count;
  }
  const publishes = byLabel(samples, "pushgate_publishes_total");
  const answer: GatewayStatus = {
    mode: settings.mode,
    workers,
    totals,
    time: ngx.now(),
    streams: byLabel(samples, "pushgate_streams_open"),
    delivered: samples.get("pushgate_messages_delivered_total") ?? 0,
    published: publishes.ok ?? 0,
    presence: { connections: samples.get("pushgate_presence_connections") ?? 0, users: samples.get("pushgate_presence_users") ?? 0 },
    redis: redisState(settings, commands, redisTime.sumMs),
    errors: problems.recent(),
  };
  ngx.header.set("Content-Type", "application/json");
  ngx.header.set("Cache-Control", "no-store");
  ngx.print(cjson.encode(answer), "\n");
}
