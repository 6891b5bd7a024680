// `npm run bench:cluster [-- options]`: how durable publishing and delivery scale from one Redis to
// a local 3-primary Redis Cluster (no replicas), both measured in the same run on this machine with
// the same gateway build, worker count and load. For each setup: a fresh Redis (or cluster) and a
// fresh gateway, then
//   - FCALL capacity: N concurrent publishers call pushgate_publish straight in Redis (through the
//     SDK's publishDurable; node-redis routes each call to its channel's primary) over many
//     channels for a few seconds: publishes/s;
//   - /pub capacity: the same through the gateway (POST /pub, keep-alive): publishes/s;
//   - fan-out: S subscribers (chunked /sub streams) spread over K channels, B messages published to
//     each channel through /pub; deliveries/s = messages received over all subscribers / (last
//     delivery - first publish).
// It prints a table with each figure and the ratio cluster / standalone, and writes it to
// bench/results/cluster-<date>.md with the command. The load (Node clients) shares the machine's
// cores with nginx and Redis, as in bench/run.ts: run it on a quiet machine.

import "../src/cli/multi";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { Agent, get, request } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createClient, createCluster } from "redis";
import { channelCommander, publishDurable, RedisCommander } from "../sdk";
import { startCluster } from "../src/cli/cluster";
import { freePort, Gateway, ROOT, startGateway, startRedis } from "../src/cli/gateway";
import { parseSettings } from "../src/config/schema";

const USAGE = `usage: npm run bench:cluster -- [options]
  --publishers 64        concurrent publishers (FCALL and /pub capacity, fan-out publishing)
  --channels 1000        channels the capacity runs publish over
  --seconds 10           length of each capacity run
  --subscribers 5000     fan-out subscribers ...
  --fanout-channels 100  ... spread evenly over this many channels
  --burst 20             fan-out messages per channel
  --workers 2            nginx workers
  --payload-bytes 64     message size`;

interface Options {
  publishers: number;
  channels: number;
  seconds: number;
  subscribers: number;
  fanoutChannels: number;
  burst: number;
  workers: number;
  payloadBytes: number;
}

interface Figures {
  fcallPerSecond: number;
  pubPerSecond: number;
  deliveriesPerSecond: number;
  delivered: number;
  expected: number;
}

function parseOptions(argv: string[]): Options {
  const options: Options = { publishers: 64, channels: 1000, seconds: 10, subscribers: 5000, fanoutChannels: 100, burst: 20, workers: 2, payloadBytes: 64 };
  if (argv.includes("--help")) {
    console.log(USAGE);
    process.exit(0);
  }
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i].replace(/^--/, "").replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()) as keyof Options;
    const value = Number(argv[i + 1]);
    if (!(name in options) || !Number.isInteger(value) || value < 1) {
      console.error(USAGE);
      process.exit(2);
    }
    options[name] = value;
  }
  return options;
}

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

/** POST /pub on a keep-alive agent: the status (0 when no answer). */
function postPub(agent: Agent, port: number, channel: string, body: string): Promise<number> {
  return new Promise((done) => {
    const req = request({ host: "127.0.0.1", port, method: "POST", path: `/pub?channel=${channel}`, agent }, (res) => {
      res.resume();
      res.on("end", () => done(res.statusCode ?? 0));
    });
    req.on("error", () => done(0));
    req.end(body);
  });
}

/**
 * Runs `publishers` loops of `one` for `seconds`: successful calls per second. A refused call
 * fails the run: a capacity counted around refusals (a 429, a 503) would measure the refusal.
 */
async function capacity(publishers: number, seconds: number, one: (n: number) => Promise<boolean>): Promise<number> {
  const end = Date.now() + seconds * 1000;
  const started = Date.now();
  let done = 0;
  let refused = 0;
  await Promise.all(
    Array.from({ length: publishers }, async (_, p) => {
      for (let n = p; Date.now() < end; n += publishers) {
        if (await one(n)) {
          done += 1;
        } else {
          refused += 1;
        }
      }
    }),
  );
  if (refused > 0) {
    throw new Error(`${refused} of ${done + refused} publishes were refused: the figure would not be a capacity`);
  }
  return done / ((Date.now() - started) / 1000);
}

/** Fan-out: subscribers over channels, `burst` messages per channel through /pub; deliveries/s. */
async function fanout(port: number, options: Options, payload: string): Promise<{ perSecond: number; delivered: number; expected: number }> {
  let delivered = 0;
  let lastDelivery = 0;
  const requests: Array<{ destroy(): void }> = [];
  let opened = 0;
  for (let i = 0; i < options.subscribers; i++) {
    const channel = `fan${i % options.fanoutChannels}`;
    const req = get({ host: "127.0.0.1", port, path: `/sub?key=${channel}`, agent: false }, (res) => {
      opened += 1;
      let tail = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        const lines = (tail + chunk).split("\n");
        tail = lines.pop() ?? "";
        for (const line of lines) {
          if (line.startsWith('{"type":"message"')) {
            delivered += 1;
            lastDelivery = Date.now();
          }
        }
      });
      res.on("error", () => undefined);
    });
    req.on("error", () => undefined);
    requests.push(req);
    if (i % 200 === 199) {
      await sleep(20);
    }
  }
  for (let waited = 0; opened < options.subscribers && waited < 60000; waited += 100) {
    await sleep(100);
  }
  // a primer to every channel: every stream is subscribed once each has it
  const agent = new Agent({ keepAlive: true, maxSockets: options.publishers });
  for (let c = 0; c < options.fanoutChannels; c++) {
    await postPub(agent, port, `fan${c}`, "primer");
  }
  for (let waited = 0; delivered < options.subscribers && waited < 30000; waited += 100) {
    await sleep(100);
  }
  delivered = 0;
  const expected = options.subscribers * options.burst;
  const first = Date.now();
  let next = 0;
  const total = options.fanoutChannels * options.burst;
  await Promise.all(
    Array.from({ length: options.publishers }, async () => {
      while (next < total) {
        const n = next++;
        await postPub(agent, port, `fan${n % options.fanoutChannels}`, payload);
      }
    }),
  );
  for (let waited = 0; delivered < expected && waited < 30000; waited += 50) {
    await sleep(50);
  }
  const perSecond = delivered / (Math.max(lastDelivery - first, 1) / 1000);
  for (const req of requests) {
    req.destroy();
  }
  agent.destroy();
  return { perSecond, delivered, expected };
}

async function measure(setup: "standalone" | "cluster", options: Options): Promise<Figures> {
  const dir = mkdtempSync(join(tmpdir(), `pushgate-bench-${setup}-`));
  const redis = setup === "standalone" ? await startRedis("127.0.0.1", await freePort(), join(dir, "redis")) : undefined;
  const cluster = setup === "cluster" ? await startCluster({ primaries: 3, replicasPerPrimary: 0 }) : undefined;
  let gateway: Gateway | undefined;
  try {
    const port = await freePort();
    const [settings, err] = parseSettings({
      listen: `127.0.0.1:${port}`,
      redisUrl: redis?.url ?? cluster!.url,
      runtimeDir: join(dir, "nginx"),
      workers: `${options.workers}`,
      workerConnections: `${options.subscribers + 4096}`,
      logLevel: "error",
      publishRatePerSecond: "0", // a capacity: the per-credential limit (1000/s by default) is policy, not cost
    });
    if (settings === undefined) {
      throw new Error(err);
    }
    gateway = await startGateway(settings, "ignore");
    const payload = "x".repeat(options.payloadBytes);
    const sharded = setup === "cluster";
    let commander: (channel: string) => RedisCommander;
    let quit: () => Promise<unknown>;
    if (cluster !== undefined) {
      const client = createCluster({ rootNodes: cluster.primaries().map((n) => ({ url: `redis://${n.host}:${n.port}` })) });
      await client.connect();
      commander = (channel) => channelCommander(client, channel);
      quit = () => client.quit();
    } else {
      const client = createClient({ url: redis!.url });
      await client.connect();
      commander = () => client;
      quit = () => client.quit();
    }
    const fcallPerSecond = await capacity(options.publishers, options.seconds, async (n) => {
      const channel = `cap${n % options.channels}`;
      await publishDurable(commander(channel), channel, payload, { sharded });
      return true;
    });
    await quit();
    const agent = new Agent({ keepAlive: true, maxSockets: options.publishers });
    const pubPerSecond = await capacity(
      options.publishers,
      options.seconds,
      async (n) => (await postPub(agent, port, `pub${n % options.channels}`, payload)) === 200,
    );
    agent.destroy();
    const fan = await fanout(port, options, payload);
    return { fcallPerSecond, pubPerSecond, deliveriesPerSecond: fan.perSecond, delivered: fan.delivered, expected: fan.expected };
  } finally {
    await gateway?.stop();
    await redis?.stop();
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const standalone = await measure("standalone", options);
  const cluster = await measure("cluster", options);
  const round = (n: number): string => Math.round(n).toLocaleString("en-US");
  const ratio = (a: number, b: number): string => (b > 0 ? (a / b).toFixed(2) : "-");
  const command = `npm run bench:cluster -- ${process.argv.slice(2).join(" ")}`.trim();
  const lines = [
    `# Durable publishing and delivery: 1 Redis vs a 3-primary Redis Cluster`,
    ``,
    `\`${command}\` (${new Date().toISOString()}; ${options.workers} nginx workers, ${options.publishers} publishers, ` +
      `${options.channels} channels for capacity, ${options.subscribers} subscribers over ${options.fanoutChannels} channels, ${options.burst} messages each)`,
    ``,
    `| figure | 1 Redis | cluster (3 primaries) | cluster / 1 Redis |`,
    `|---|---|---|---|`,
    `| FCALL pushgate_publish, publishes/s | ${round(standalone.fcallPerSecond)} | ${round(cluster.fcallPerSecond)} | ${ratio(cluster.fcallPerSecond, standalone.fcallPerSecond)} |`,
    `| POST /pub, publishes/s | ${round(standalone.pubPerSecond)} | ${round(cluster.pubPerSecond)} | ${ratio(cluster.pubPerSecond, standalone.pubPerSecond)} |`,
    `| fan-out, deliveries/s | ${round(standalone.deliveriesPerSecond)} | ${round(cluster.deliveriesPerSecond)} | ${ratio(cluster.deliveriesPerSecond, standalone.deliveriesPerSecond)} |`,
    `| fan-out, delivered / expected | ${standalone.delivered} / ${standalone.expected} | ${cluster.delivered} / ${cluster.expected} | |`,
  ];
  const text = lines.join("\n") + "\n";
  process.stdout.write(text);
  const out = resolve(ROOT, "bench", "results");
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, `cluster-${new Date().toISOString().slice(0, 10)}.md`), text);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
