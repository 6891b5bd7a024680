// The setups the benchmark compares, each started fresh on identical terms: the same nginx binary,
// worker count and limits, and its own new Redis (same binary and options) on a free port. A
// setup is a server and the way messages reach it, so plain and durable publishing stand side by
// side in one run:
//   pushgate-shared  Pushgate, one Redis connection per worker (when the build has the mode);
//                    messages by plain Redis PUBLISH (delivered as-is, not kept)
//   pushgate-fcall   the same server; messages by FCALL pushgate_publish (durable: kept in the
//                    channel's history, given an id), pipelined over RESP as a backend sends it
//   pushgate-pub     the same server; messages by POST /pub (durable), with the same HTTP
//                    publisher code and concurrency as Nchan's
//   pushgate-direct  Pushgate, one Redis connection per stream; Redis PUBLISH
//   nchan-redis      Nchan with Redis storage; POST /pub/<channel> (Nchan stores every message)
//   nchan-memory     Nchan with its memory store (Redis running but unused)
// and profile setups, run only when named:
//   nginx-floor      nginx holding each request in echo_sleep (no Lua): nginx's own cost per stream
//   lua-floor        nginx + ngx_lua holding each request in ngx.sleep: the floor of idle memory
//                    per stream for any Lua handler, before Pushgate's own allocations

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { connect, Socket } from "node:net";
import { join } from "node:path";
import { freePort, RedisServer, startGateway, startRedis } from "../../src/cli/gateway";
import { parseSettings } from "../../src/config/schema";
import { connectionsFor, HttpPublisher, PostRequest } from "./http-publisher";
import { ResponseParser } from "./http-response";
import { memoryOf, Memory, processTree } from "./machine";
import { nchanUnavailable, startNchan } from "./nchan";
import { renderTemplate, startNginx } from "./nginx";
import { makePayload, nowMicros } from "./payload";
import { PublishWay, Target } from "./protocol";
import { redisPublishArgs, redisRefusal } from "./publishers";
import { RespClient } from "./resp";

export type SetupName =
  "pushgate-shared" | "pushgate-fcall" | "pushgate-pub" | "pushgate-direct" | "nchan-redis" | "nchan-memory" | "lua-floor" | "nginx-floor";
/** The compared setups, run by default. */
export const SETUP_NAMES: SetupName[] = ["pushgate-shared", "pushgate-fcall", "pushgate-pub", "pushgate-direct", "nchan-redis", "nchan-memory"];
/**
 * Setups that run the same server as another and differ only in how messages are published: the
 * workloads whose figures publishing does not touch (idle memory, the reconnect storm) are not
 * repeated for them.
 */
export const SAME_SERVER_AS: Partial<Record<SetupName, SetupName>> = { "pushgate-fcall": "pushgate-shared", "pushgate-pub": "pushgate-shared" };
/** Setups run only when named, to explain figures rather than compete. */
export const PROFILE_SETUP_NAMES: SetupName[] = ["nginx-floor", "lua-floor"];

/** A setup that cannot run on this machine or build; the message says why. */
export class NotAvailable extends Error {}

export interface ServerOptions {
  nginx: string;
  /** A fresh directory for this server's config, logs and Redis files. */
  dir: string;
  workers: number;
  workerConnections: number;
  workerRlimitNofile: number;
  listenAddresses: number;
  nchanSharedMemory: string;
  /** Messages Nchan keeps per channel (nchan_message_buffer_length). */
  nchanBuffer: number;
  logLevel: string;
}

export interface PublishResult {
  sent: number;
  /** Failed publishes by reason. */
  failed: Record<string, number>;
  firstSentMicros: number;
}

export interface ServerMemory {
  nginx: Memory;
  redis: Memory;
  nginxProcesses: number;
}

export interface Server {
  name: SetupName;
  /** False for a setup that only holds streams (lua-floor): it has no publish path. */
  delivers: boolean;
  targets: Target[];
  /** Subscribe path with "{channel}", and extra request headers. */
  pathTemplate: string;
  headers: string[];
  publishVia: string;
  /** How the publish workload's closed loop reaches this server (the setup's own way of publishing). */
  publishWay: PublishWay;
  errorLog: string;
  redisMaxClients: number;
  /** Publishes one message per channel (in order), stamped with `epoch` and seq firstSeq, firstSeq+1, … */
  publish(channels: string[], epoch: number, firstSeq: number, bytes: number): Promise<PublishResult>;
  /** nginx's master and worker pids, and Redis's pid. */
  processes(): { nginx: number[]; redis: number[] };
  memory(): ServerMemory;
  /** Redis clients other than the benchmark's own connections. */
  redisClients(): Promise<number>;
  stop(): Promise<void>;
}

/** Listen addresses 127.0.0.1, 127.1.0.1, 127.2.0.1, … on one port (source addresses are 127.0.x.y). */
function listenTargets(count: number, port: number): Target[] {
  return Array.from({ length: count }, (_, i) => ({ host: `127.${i}.0.1`, port }));
}

/** The benchmark's Redis side: the server, a connection for INFO and one for PUBLISH. */
interface RedisSide {
  server: RedisServer;
  monitor: RespClient;
  publisher: RespClient;
  maxClients: number;
}

async function startRedisSide(dir: string): Promise<RedisSide> {
  const port = await freePort();
  const server = await startRedis("127.0.0.1", port, join(dir, "redis"));
  const monitor = await RespClient.open("127.0.0.1", port);
  const publisher = await RespClient.open("127.0.0.1", port);
  const reply = await monitor.command("CONFIG", "GET", "maxclients");
  const maxClients = Array.isArray(reply) ? Number(reply[1]) : NaN;
  return { server, monitor, publisher, maxClients };
}

async function stopRedisSide(side: RedisSide): Promise<void> {
  side.monitor.close();
  side.publisher.close();
  await side.server.stop();
}

/**
 * What every setup measures the same way (nginx's process tree and its own Redis) and how it
 * stops: its nginx (or gateway), then its Redis.
 */
function measuredAndStopped(
  nginxPid: number,
  redis: RedisSide,
  stopNginx: () => Promise<void>,
): Pick<Server, "processes" | "memory" | "redisClients" | "stop"> {
  return {
    processes: () => ({ nginx: processTree(nginxPid), redis: [redis.server.process.pid!] }),
    memory: () => {
      const pids = processTree(nginxPid);
      return { nginx: memoryOf(pids), redis: memoryOf([redis.server.process.pid!]), nginxProcesses: pids.length };
    },
    redisClients: async () => (await redis.monitor.info("clients", "connected_clients")) - 2,
    stop: async () => {
      await stopNginx();
      await stopRedisSide(redis);
    },
  };
}

function count(table: Record<string, number>, key: string, n = 1): void {
  table[key] = (table[key] ?? 0) + n;
}

async function publishRedis(
  client: RespClient,
  command: "PUBLISH" | "FCALL",
  channels: string[],
  epoch: number,
  firstSeq: number,
  bytes: number,
): Promise<PublishResult> {
  const firstSentMicros = nowMicros();
  const replies = await client.pipeline(channels.map((channel, i) => redisPublishArgs(command, channel, makePayload(epoch, firstSeq + i, bytes))));
  const failed: Record<string, number> = {};
  for (const reply of replies) {
    const refusal = redisRefusal(command, reply);
    if (refusal !== undefined) {
      count(failed, refusal);
    }
  }
  return { sent: channels.length, failed, firstSentMicros };
}

async function publishHttp(
  target: Target,
  path: (channel: string) => string,
  channels: string[],
  epoch: number,
  firstSeq: number,
  bytes: number,
): Promise<PublishResult> {
  const publisher = await HttpPublisher.open(target, connectionsFor(channels.length));
  try {
    const firstSentMicros = nowMicros();
    const requests: PostRequest[] = channels.map((channel, i) => ({ path: path(channel), body: makePayload(epoch, firstSeq + i, bytes) }));
    const statuses = await publisher.send(requests);
    const failed: Record<string, number> = {};
    for (const [status, n] of Object.entries(statuses)) {
      if (!status.startsWith("2")) {
        count(failed, status === "0" ? "no answer" : `status ${status}`, n);
      }
    }
    return { sent: channels.length, failed, firstSentMicros };
  } finally {
    publisher.close();
  }
}

/**
 * Opens `n` streams from this process and returns their status codes; the streams stay open until
 * `close` is called. Used to check a mode's Redis connections before running workloads.
 */
async function probeStreams(target: Target, paths: string[], headers: string[]): Promise<{ statuses: number[]; close: () => void }> {
  const sockets: Socket[] = [];
  const statuses = await Promise.all(
    paths.map(
      (path) =>
        new Promise<number>((done) => {
          const socket = connect({ host: target.host, port: target.port });
          sockets.push(socket);
          const parser = new ResponseParser({ onHead: (status) => done(status), onBody: () => undefined, onEnd: () => undefined });
          socket.on("data", (data: Buffer) => parser.push(data));
          socket.on("error", () => done(0));
          socket.on("close", () => done(0));
          socket.setTimeout(5000, () => done(0));
          socket.write(`GET ${path} HTTP/1.1\r\nHost: ${target.host}\r\n${headers.map((h) => `${h}\r\n`).join("")}\r\n`);
        }),
    ),
  );
  return { statuses, close: () => sockets.forEach((socket) => socket.destroy()) };
}

/** How a Pushgate setup gets its messages. */
type PushgatePublish = "PUBLISH" | "FCALL" | "POST /pub";

const HTTP_PIPELINE = "pipelined on 8 or more keep-alive connections, ≤ 900 requests each";

const PUSHGATE_PUBLISH_VIA: Record<PushgatePublish, string> = {
  PUBLISH: "Redis PUBLISH, plain: not kept, no id (pipelined on one connection)",
  FCALL: "Redis FCALL pushgate_publish, durable: kept, with an id (pipelined on one connection)",
  "POST /pub": `POST /pub?channel=<channel>, durable: kept, with an id (${HTTP_PIPELINE})`,
};

/**
 * Pushgate's settings for the bench. The publish rate limit per credential (1000/s by default,
 * and every bench publisher is one credential: 127.0.0.1) is policy, not cost: it is off, as in
 * bench/cluster-scaling.ts. A build older than the setting is started without it.
 */
function pushgateSettings(values: Record<string, string>): ReturnType<typeof parseSettings> {
  const parsed = parseSettings({ ...values, publishRatePerSecond: "0" });
  return parsed[0] === undefined && String(parsed[1]).includes("publishRatePerSecond") ? parseSettings(values) : parsed;
}

/** Waits until the gateway has loaded its Redis functions (it does on connecting): a probe FCALL succeeds. */
async function checkFunctionLoaded(client: RespClient): Promise<void> {
  const deadline = Date.now() + 10000;
  let refusal: string | undefined;
  while (Date.now() < deadline) {
    refusal = redisRefusal("FCALL", await client.command(...redisPublishArgs("FCALL", "bench-probe", "probe")));
    if (refusal === undefined) {
      return;
    }
    await new Promise((done) => setTimeout(done, 200));
  }
  throw new NotAvailable(`FCALL pushgate_publish does not answer within 10 s: ${refusal}`);
}

async function startPushgate(name: SetupName, mode: "direct" | "shared", way: PushgatePublish, options: ServerOptions): Promise<Server> {
  const redis = await startRedisSide(options.dir);
  try {
    const port = await freePort();
    const targets = listenTargets(options.listenAddresses, port);
    const [settings, err] = pushgateSettings({
      listen: targets.map((t) => `${t.host}:${t.port}`).join(","),
      redisUrl: redis.server.url,
      runtimeDir: join(options.dir, "nginx"),
      workers: `${options.workers}`,
      workerConnections: `${options.workerConnections}`,
      workerRlimitNofile: `${options.workerRlimitNofile}`,
      mode,
      logLevel: options.logLevel,
    });
    if (settings === undefined) {
      throw new NotAvailable(`the settings do not accept mode "${mode}": ${err}`);
    }
    const gateway = await startGateway(settings, "ignore");
    const nginxPid = gateway.process.pid!;
    const redisTarget: Target = { host: "127.0.0.1", port: redis.server.port };
    const server: Server = {
      name,
      delivers: true,
      targets,
      pathTemplate: "/sub?key={channel}",
      headers: [],
      publishVia: PUSHGATE_PUBLISH_VIA[way],
      publishWay:
        way === "POST /pub"
          ? { kind: "http", target: targets[0], pathTemplate: "/pub?channel={channel}" }
          : { kind: "redis", target: redisTarget, command: way },
      errorLog: gateway.errorLog,
      redisMaxClients: redis.maxClients,
      publish: (channels, epoch, firstSeq, bytes) =>
        way === "POST /pub"
          ? publishHttp(targets[0], (channel) => `/pub?channel=${channel}`, channels, epoch, firstSeq, bytes)
          : publishRedis(redis.publisher, way, channels, epoch, firstSeq, bytes),
      ...measuredAndStopped(nginxPid, redis, () => gateway.stop()),
    };
    if (mode === "shared") {
      await checkSharedMode(server, options.workers);
    }
    if (way === "FCALL") {
      await checkFunctionLoaded(redis.publisher).catch(async (e: unknown) => {
        await server.stop();
        throw e;
      });
    }
    return server;
  } catch (e) {
    await stopRedisSide(redis);
    throw e;
  }
}

/**
 * The shared mode exists when streams do not each open a Redis connection: 40 streams must leave
 * at most 2 × workers gateway connections in Redis. Stops the server and throws NotAvailable if not.
 */
async function checkSharedMode(server: Server, workers: number): Promise<void> {
  const streams = 40;
  const paths = Array.from({ length: streams }, (_, i) => server.pathTemplate.replace("{channel}", `probe-${i}`));
  const probe = await probeStreams(server.targets[0], paths, server.headers);
  await new Promise((done) => setTimeout(done, 300));
  const clients = await server.redisClients();
  probe.close();
  const ok = probe.statuses.filter((status) => status === 200).length;
  let why: string | undefined;
  if (ok < streams) {
    why = `only ${ok} of ${streams} probe streams were answered 200 (statuses: ${[...new Set(probe.statuses)].join(", ")})`;
  } else if (clients > 2 * workers) {
    why = `the setting mode=shared is accepted, but ${streams} streams hold ${clients} Redis connections (more than 2 × ${workers} workers): this build of src/sub-location.ts still opens one Redis connection per stream`;
  }
  if (why !== undefined) {
    await server.stop();
    throw new NotAvailable(why);
  }
}

async function startNchanSetup(name: SetupName, useRedis: boolean, options: ServerOptions): Promise<Server> {
  const missing = nchanUnavailable();
  if (missing !== undefined) {
    throw new NotAvailable(missing);
  }
  const redis = await startRedisSide(options.dir);
  try {
    const port = await freePort();
    const targets = listenTargets(options.listenAddresses, port);
    const runtimeDir = join(options.dir, "nginx");
    mkdirSync(runtimeDir, { recursive: true });
    const nchan = await startNchan({
      nginx: options.nginx,
      runtimeDir,
      listen: targets,
      workers: options.workers,
      workerConnections: options.workerConnections,
      workerRlimitNofile: options.workerRlimitNofile,
      redisUrl: useRedis ? redis.server.url.replace(/\/0$/, "") : undefined,
      sharedMemory: options.nchanSharedMemory,
      messageBufferLength: options.nchanBuffer,
      logLevel: options.logLevel,
    });
    const nginxPid = nchan.process.pid!;
    return {
      name,
      delivers: true,
      targets,
      pathTemplate: "/sub/{channel}",
      headers: ["TE: chunked"],
      publishVia: `POST /pub/<channel>, stored: ${options.nchanBuffer} messages kept per channel (${HTTP_PIPELINE})`,
      publishWay: { kind: "http", target: targets[0], pathTemplate: "/pub/{channel}" },
      errorLog: nchan.errorLog,
      redisMaxClients: redis.maxClients,
      publish: (channels, epoch, firstSeq, bytes) => publishHttp(targets[0], (channel) => `/pub/${channel}`, channels, epoch, firstSeq, bytes),
      ...measuredAndStopped(nginxPid, redis, () => nchan.stop()),
    };
  } catch (e) {
    await stopRedisSide(redis);
    throw e;
  }
}

/** load_module lines for Debian's dynamic ndk and Lua modules; empty when Lua is built in. */
function luaModuleLines(nginx: string): string {
  const version = spawnSync(nginx, ["-V"], { encoding: "utf8" });
  const built = `${version.stdout}${version.stderr}`;
  const lua = "/usr/lib/nginx/modules/ngx_http_lua_module.so";
  if ((built.includes("lua-nginx-module") && !built.includes("--add-dynamic-module")) || !existsSync(lua)) {
    return "";
  }
  return ["load_module /usr/lib/nginx/modules/ndk_http_module.so;", `load_module ${lua};`].join("\n");
}

const ECHO_MODULE = "/usr/lib/nginx/modules/ngx_http_echo_module.so";

/** A profile setup: nginx from bench/<template> holding each /sub request open, nothing else. */
async function startFloor(name: SetupName, template: string, modules: Record<string, string>, options: ServerOptions): Promise<Server> {
  const redis = await startRedisSide(options.dir); // unused; started so the baseline matches the others
  try {
    const port = await freePort();
    const targets = listenTargets(options.listenAddresses, port);
    const runtimeDir = join(options.dir, "nginx");
    const config = renderTemplate(template, {
      ...modules,
      workers: `${options.workers}`,
      worker_rlimit_nofile: `${options.workerRlimitNofile}`,
      worker_connections: `${options.workerConnections}`,
      runtime_dir: runtimeDir,
      log_level: options.logLevel,
      listen_directives: targets.map((t) => `        listen ${t.host}:${t.port} reuseport backlog=4096;`).join("\n"),
    });
    const nginx = await startNginx(options.nginx, runtimeDir, config, async () => {
      const probe = await probeStreams(targets[0], ["/healthz"], []);
      probe.close();
      return probe.statuses[0] === 200 ? undefined : `healthz answered ${probe.statuses[0]}`;
    });
    const nginxPid = nginx.process.pid!;
    return {
      name,
      delivers: false,
      targets,
      pathTemplate: "/sub?key={channel}",
      headers: [],
      publishVia: "none (holds streams only)",
      publishWay: { kind: "http", target: targets[0], pathTemplate: "/none" },
      errorLog: nginx.errorLog,
      redisMaxClients: redis.maxClients,
      publish: () => Promise.reject(new Error(`${name} has no publish path`)),
      ...measuredAndStopped(nginxPid, redis, () => nginx.stop()),
    };
  } catch (e) {
    await stopRedisSide(redis);
    throw e;
  }
}

/** Starts a fresh server of the named setup; throws NotAvailable when it cannot run here. */
export function startServer(name: SetupName, options: ServerOptions): Promise<Server> {
  switch (name) {
    case "pushgate-shared":
      return startPushgate(name, "shared", "PUBLISH", options);
    case "pushgate-fcall":
      return startPushgate(name, "shared", "FCALL", options);
    case "pushgate-pub":
      return startPushgate(name, "shared", "POST /pub", options);
    case "pushgate-direct":
      return startPushgate(name, "direct", "PUBLISH", options);
    case "nchan-redis":
      return startNchanSetup(name, true, options);
    case "nchan-memory":
      return startNchanSetup(name, false, options);
    case "lua-floor":
      return startFloor(name, "lua-floor.conf", { load_modules: luaModuleLines(options.nginx) }, options);
    case "nginx-floor":
      if (!existsSync(ECHO_MODULE)) {
        return Promise.reject(new NotAvailable(`${ECHO_MODULE} is missing: apt-get install libnginx-mod-http-echo`));
      }
      return startFloor(name, "nginx-floor.conf", { echo_module: ECHO_MODULE }, options);
  }
}
