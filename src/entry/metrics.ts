// content_by_lua of GET /metrics: the gateway's metrics in the Prometheus text format, in both
// modes. The counters every worker flushes to the shared dict (host/metrics.ts), and the hub
// counters each worker writes for /status (shared mode). With credentials on, only for the
// publisher key or the admin key, as /status.

import * as metrics from "../host/metrics";
import * as settingsHolder from "../host/settings";
import { family, histogram, label, Sample } from "../protocol/metrics";
import { failWith } from "./answer";
import { forAdmin, workerEntries } from "./status";

type Kind = "counter" | "gauge";

/** The families the hooks count, in the order they are answered. */
const FAMILIES: Array<[string, Kind, string]> = [
  ["pushgate_streams_open", "gauge", "Streams open now, by transport."],
  ["pushgate_connects_total", "counter", "Streams opened, by transport."],
  ["pushgate_disconnects_total", "counter", "Streams ended, by reason and transport."],
  ["pushgate_messages_delivered_total", "counter", "Durable messages written to clients."],
  ["pushgate_publishes_total", "counter", "Publish requests answered, by result (ok or the failure's kind)."],
  ["pushgate_auth_failures_total", "counter", "Requests refused for their credential, by reason."],
  ["pushgate_refusals_total", "counter", "Requests refused, by kind."],
  ["pushgate_redis_errors_total", "counter", "Redis connects and commands that failed, by operation."],
  ["pushgate_presence_connections", "gauge", "Connections with a user that this gateway tracks in presence."],
  ["pushgate_presence_users", "gauge", "Distinct users with a connection, counted per worker and summed (a user on two workers counts twice)."],
];

/** Families answered with 0 before anything counted them, so a dashboard finds them from the start. */
function zeroAtStart(name: string): boolean {
  return name === "pushgate_messages_delivered_total" || name.startsWith("pushgate_presence_");
}

/** The samples of `name` among `samples` ("name" or "name{labels}"), sorted by labels. */
function samplesOf(samples: LuaTable<string, number>, name: string): Sample[] {
  const found: Sample[] = [];
  for (const [key, value] of samples) {
    if (key === name) {
      found.push({ labels: "", value });
    } else if (key.startsWith(`${name}{`) && key.endsWith("}")) {
      found.push({ labels: key.substring(name.length + 1, key.length - 1), value });
    }
  }
  found.sort((a, b) => (a.labels < b.labels ? -1 : a.labels > b.labels ? 1 : 0));
  return found;
}

/** The text of every family. */
export function render(mode: string): string[] {
  const out: string[] = [];
  const [samples, latency, redisTime] = metrics.read();
  for (const [name, kind, help] of FAMILIES) {
    const found = samplesOf(samples, name);
    if (found.length === 0 && zeroAtStart(name)) {
      found.push({ labels: "", value: 0 });
    }
    family(out, name, kind, help, found);
  }
  histogram(
    out,
    "pushgate_delivery_latency_seconds",
    "Time from publish (the message id, Redis's clock) to the write to a client.",
    latency.counts,
    latency.sumMs / 1000,
  );
  histogram(
    out,
    "pushgate_redis_command_duration_seconds",
    "Time each store operation held its Redis connection: its commands' round trips, connecting excluded.",
    redisTime.counts,
    redisTime.sumMs / 1000,
  );
  const hubConnected: Sample[] = [];
  const hub = { channels: 0, subscribers: 0, messages: 0, reconnects: 0, dropped: 0, overflows: 0 };
  const entries = workerEntries();
  for (let id = 0; id < ngx.worker.count(); id++) {
    const entry = entries.get(id);
    if (entry !== undefined) {
      hubConnected.push({ labels: label("worker", tostring(id)), value: entry.connected ? 1 : 0 });
      hub.channels += entry.channels;
      hub.subscribers += entry.subscribers;
      hub.messages += entry.messages;
      hub.reconnects += entry.reconnects;
      hub.dropped += entry.dropped;
      hub.overflows += entry.overflows;
    }
  }
  family(out, "pushgate_info", "gauge", "The gateway's subscription mode.", [{ labels: label("mode", mode), value: 1 }]);
  if (mode === "shared") {
    family(out, "pushgate_hub_connected", "gauge", "Whether each worker's hub holds its Redis subscribe connection.", hubConnected);
  }
  family(out, "pushgate_hub_channels", "gauge", "Channels the hubs carry (shared mode).", [{ labels: "", value: hub.channels }]);
  family(out, "pushgate_hub_subscribers", "gauge", "Subscribers registered with the hubs (shared mode).", [{ labels: "", value: hub.subscribers }]);
  family(out, "pushgate_hub_messages_total", "counter", "Messages the hubs received from Redis (shared mode; resets with a worker).", [
    { labels: "", value: hub.messages },
  ]);
  family(out, "pushgate_hub_reconnects_total", "counter", "Hub reconnects to Redis (shared mode; resets with a worker).", [
    { labels: "", value: hub.reconnects },
  ]);
  family(out, "pushgate_queue_dropped_total", "counter", "Messages dropped from full subscriber queues (resets with a worker).", [
    { labels: "", value: hub.dropped },
  ]);
  family(out, "pushgate_queue_overflows_total", "counter", "Subscriber queues that overflowed (resets with a worker).", [{ labels: "", value: hub.overflows }]);
  return out;
}

export function handle(): void {
  const settings = settingsHolder.get();
  const [allowed, refusal] = forAdmin(settings);
  if (allowed === undefined) {
    return failWith(settings, refusal);
  }
  ngx.header.set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
  ngx.header.set("Cache-Control", "no-store");
  ngx.print(render(settings.mode));
}
