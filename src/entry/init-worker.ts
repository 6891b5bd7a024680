// init_worker_by_lua entry: in shared mode, starts this worker's hub (which loads the Redis
// functions on every connection; in a Redis Cluster, on every primary, and routes channels to
// their shards by the store's slot map); in direct mode, worker 0 loads them at start. In every mode,
// statistics.

import * as metrics from "../host/metrics";
import * as heapmap from "../host/heapmap";
import * as profile from "../host/profile";
import * as settingsHolder from "../host/settings";
import * as hub from "../hub/hub";
import * as servers from "../store/servers";
import * as topology from "../store/topology";
import { missedSince } from "../stream/heal";
import * as control from "../stream/control";
import { openRequests } from "../stream/open";
import * as presence from "../store/presence";
import * as status from "./status";

function loadFunctions(this: void): void {
  const [loaded, err] = servers.loadFunctions(settingsHolder.get());
  if (loaded === undefined) {
    ngx.log(ngx.WARN, err);
  }
}

/** Shared mode, each time the hub is connected and subscribed: functions loaded, the hub reported up at once (readiness). */
function hubConnected(this: void): void {
  loadFunctions();
  status.report();
}

function loadFunctionsLater(this: void, premature: boolean): void {
  if (!premature) {
    loadFunctions();
  }
}

function channelOwner(this: void, channel: string): ReturnType<typeof topology.channelOwner> {
  return topology.channelOwner(settingsHolder.get(), channel);
}

function mapChanged(this: void): void {
  topology.mapChanged(settingsHolder.get());
}

/** With sentinels: the primary they name now (asked again after a failed connection). */
function sentinelPrimary(this: void): ReturnType<typeof topology.primaryAddress> {
  topology.forgetPrimary();
  return topology.primaryAddress(settingsHolder.get());
}

/** In a Redis Cluster the hub subscribes each channel on the shard owning its slot. */
const SHARD_MAP = { ownerOf: channelOwner, changed: mapChanged };

/**
 * LuaJIT starts a collection when its heap reaches this percentage of what the last one left
 * (default 200: up to twice the live heap, which the worker's memory keeps once reached). At 120
 * an idle stream costs 0.8 KB less worker memory, and no measurable CPU on the delivery path,
 * which allocates almost nothing (bench/probes/idle-memory.js and fanout-paced.js).
 */
const GC_PAUSE = 120;

export function start(): void {
  collectgarbage("setpause", GC_PAUSE);
  const settings = settingsHolder.get();
  if (settings.luaProfile !== "") {
    profile.start(settings.luaProfile);
  }
  if (settings.luaHeapMap !== "") {
    heapmap.start(settings.luaHeapMap, openRequests());
  }
  if (settings.mode === "shared") {
    const sentinels = settings.redis.length > 0 && settings.redis[0].sentinel !== undefined;
    hub.start(settings, hubConnected, missedSince, topology.isCluster(settings) ? SHARD_MAP : undefined, sentinels ? sentinelPrimary : undefined);
  } else if (ngx.worker.id() === 0) {
    ngx.timer.at(0, loadFunctionsLater);
  }
  status.start();
  metrics.start();
  presence.start(settings);
  control.start(settings);
}
