// Worker statistics: each worker writes its hub counters to a shared dict once a second; GET
// /status reads every worker's entry, so one request sees the whole gateway.

import * as cjson from "cjson";
import * as hub from "../hub/hub";
import type { WorkerStatus } from "../protocol/status";
import { uriArgs } from "../host/http";
import * as settingsHolder from "../host/settings";
import * as access from "../policy/access";
import { failWith } from "./answer";
import { credentialsOf } from "./request";

const DICT = "pushgate";
const PUBLISH_EVERY_S = 1;
/** An entry older than this belonged to a worker that is gone (reload). */
const ENTRY_TTL_S = 5;

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

/** Writes this worker's entry now (the hub just connected: readiness need not wait for the timer). */
export function report(): void {
  publish(false);
}

/** init_worker: start publishing this worker's statistics. */
export function start(): void {
  publish(false);
  const [ok, err] = ngx.timer.every(PUBLISH_EVERY_S, publish);
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

/** content_by_lua of GET /status: with credentials on, only for the publisher key. */
export function handle(): void {
  const settings = settingsHolder.get();
  const [allowed, refusal] = access.forOperator(settings, credentialsOf(settings, uriArgs()));
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
  ngx.header.set("Content-Type", "application/json");
  ngx.header.set("Cache-Control", "no-store");
  ngx.print(cjson.encode({ mode: settings.mode, workers, totals }), "\n");
}
