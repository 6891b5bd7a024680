// The hub's Redis connection in subscribe mode, one per worker, held by a background timer
// started from init_worker. The timer's thread reads (and fans out through the registry); a light
// thread it spawns writes what the registry asks for. Only these two threads touch the socket.
// When the connection ends it reconnects with backoff and jitter, and the streams get notices.

import semaphore = require("ngx.semaphore");
import type { Settings } from "../config/schema";
import * as redis from "../host/redis";
import { encodeCommand, readReply } from "../host/resp";
import * as fanout from "./fanout";
import * as registry from "./registry";
import { EXIT_CHECK_S, LIVENESS_S, PING_EVERY_S, READ_IDLE_MS, REPLIES_PER_YIELD, WRITER_TICK_S, YIELD_S } from "./timing";

const BACKOFF_MIN_S = 0.1;
const BACKOFF_MAX_S = 5;

let config: Settings | undefined;
/** Called once every new connection is subscribed (loads the Redis functions, reports the hub up). */
let onConnect: ((this: void) => void) | undefined;
/** Called after a reconnect with the channels in use and where each resumes: what history kept since. */
let onRestored: RestoredHook | undefined;

export type RestoredHook = (this: void, channels: string[], after: Record<string, string>) => fanout.Missed;
/** Where to connect now, when it can change (a primary named by sentinels). */
export type PrimaryHook = (this: void) => LuaMultiReturn<[Settings["redis"][number]] | [undefined, string]>;
let primaryOf: PrimaryHook | undefined;
let writerWake: NgxSemaphore | undefined;
let sock: NgxTcpSocket | undefined;
let connected = false;
let lastReplyAt = 0;
let lastPingAt = 0;

/** What reconcile() asks for, as RESP commands: a SUBSCRIBE and an UNSUBSCRIBE, each when it has channels. */
function subscriptionCommands(subscribe: string[], unsubscribe: string[]): string[][] {
  const commands: string[][] = [];
  if (subscribe.length > 0) {
    table.insert(subscribe, 1, "SUBSCRIBE");
    commands.push(encodeCommand(subscribe));
  }
  if (unsubscribe.length > 0) {
    table.insert(unsubscribe, 1, "UNSUBSCRIBE");
    commands.push(encodeCommand(unsubscribe));
  }
  return commands;
}

/** Sends the SUBSCRIBE and UNSUBSCRIBE the registry asks for, and a PING now and then. */
function sendPending(now: number): LuaMultiReturn<[true] | [undefined, string]> {
  const [subscribe, unsubscribe] = registry.reconcile(now);
  const commands = subscriptionCommands(subscribe, unsubscribe);
  if (now - lastPingAt >= PING_EVERY_S) {
    lastPingAt = now;
    commands.push(encodeCommand(["PING"]));
  }
  if (commands.length === 0 || sock === undefined) {
    return $multi(true);
  }
  const [sent, err] = sock.send(commands);
  if (sent === undefined) {
    return $multi(undefined, err);
  }
  return $multi(true);
}

function writerLoop(this: void, wakeUp: NgxSemaphore): void {
  while (connected) {
    const [, err] = sendPending(ngx.now());
    if (err !== undefined) {
      ngx.log(ngx.WARN, "pushgate hub: failed to send to redis: ", err);
      sock?.close(); // the reader sees the connection end and reconnects
      return;
    }
    wakeUp.wait(WRITER_TICK_S);
  }
}

function dispatch(reply: unknown): void {
  if (type(reply) !== "table") {
    return;
  }
  const parts = reply as string[];
  const kind = parts[0];
  if (kind === "message") {
    fanout.deliver(parts[1], parts[2]);
  } else if (kind === "subscribe" || kind === "unsubscribe") {
    registry.confirmed(parts[1]);
  }
  // "pong" and anything else only proves the connection is alive
}

/**
 * Subscribes every channel in use on a new connection and waits until Redis has confirmed them,
 * keeping the messages that arrive meanwhile: what history gives back must be queued first.
 */
function resubscribe(conn: NgxTcpSocket, settings: Settings): LuaMultiReturn<[string[][]] | [undefined, string]> {
  registry.resubscribeAll();
  const [subscribe, unsubscribe] = registry.reconcile(ngx.now());
  const early: string[][] = [];
  let pending = subscribe.length + unsubscribe.length;
  if (pending === 0) {
    return $multi(early);
  }
  const commands = subscriptionCommands(subscribe, unsubscribe);
  const [sent, sendErr] = conn.send(commands);
  if (sent === undefined) {
    return $multi(undefined, sendErr);
  }
  while (pending > 0) {
    const [reply, err] = readReply(conn, settings.redisTimeoutMs, settings.redisTimeoutMs);
    if (reply === undefined) {
      return $multi(undefined, `failed to subscribe again: ${err}`);
    }
    const parts = reply as string[];
    if (parts[0] === "message") {
      early.push(parts);
    } else if (parts[0] === "subscribe" || parts[0] === "unsubscribe") {
      registry.confirmed(parts[1]);
      pending -= 1;
    }
  }
  lastReplyAt = ngx.now();
  return $multi(early);
}

/**
 * After a reconnect: reads from history what each channel in use missed while the connection
 * was down (the restored hook), and queues it before any live message of the new connection.
 */
function heal(lostAt: number): void {
  if (onRestored === undefined) {
    return;
  }
  const [names, after] = registry.resumePositions(math.floor(lostAt * 1000));
  if (names.length === 0) {
    return;
  }
  const [gaps, missed] = onRestored(names, after);
  if (gaps === undefined) {
    ngx.log(ngx.WARN, "pushgate hub: failed to read what was missed: ", missed);
    return;
  }
  fanout.deliverMissed(gaps, missed);
}

/** One connection's life: connect, resubscribe, read until it ends. Returns why it ended. */
function serveConnection(settings: Settings, address: Settings["redis"][number], everConnected: boolean): string {
  const [conn, connectErr] = redis.connectSubscriber(address, settings.redisTimeoutMs);
  if (conn === undefined) {
    return connectErr;
  }
  const lostAt = lastReplyAt;
  sock = conn;
  connected = true;
  lastReplyAt = ngx.now();
  lastPingAt = ngx.now();
  const [early, subscribeErr] = resubscribe(conn, settings);
  if (early === undefined) {
    connected = false;
    conn.close();
    sock = undefined;
    registry.forgetRedisState();
    return subscribeErr;
  }
  if (everConnected) {
    fanout.noticeAll("redis-restored");
    heal(lostAt);
  }
  for (const reply of early) {
    dispatch(reply);
  }
  // e.g. make sure Redis has the pushgate functions, so backends can FCALL them by name from the
  // start (and again after a Redis restart), and report the hub connected
  onConnect?.();
  const writer = ngx.thread.spawn(writerLoop, writerWake!);
  let why: string;
  let sinceYield = 0;
  let exitCheckedAt = ngx.now();
  for (;;) {
    const [reply, err] = readReply(conn, READ_IDLE_MS, settings.redisTimeoutMs);
    if (reply !== undefined) {
      lastReplyAt = ngx.now();
      dispatch(reply);
      sinceYield += 1;
      if (sinceYield >= REPLIES_PER_YIELD) {
        sinceYield = 0;
        ngx.sleep(YIELD_S);
      }
      // Under steady traffic the idle timeout below never fires: look at the clock instead.
      if (lastReplyAt - exitCheckedAt >= EXIT_CHECK_S) {
        exitCheckedAt = lastReplyAt;
        if (ngx.worker.exiting()) {
          why = "exiting";
          break;
        }
      }
    } else if (err === "timeout") {
      if (ngx.worker.exiting()) {
        why = "exiting";
        break;
      }
      if (ngx.now() - lastReplyAt > LIVENESS_S) {
        why = "no reply to ping";
        break;
      }
    } else {
      why = err;
      break;
    }
  }
  connected = false;
  writerWake!.post(1);
  ngx.thread.kill(writer);
  conn.close();
  sock = undefined;
  registry.forgetRedisState();
  return why;
}

function run(this: void, premature: boolean): void {
  if (premature) {
    return;
  }
  const settings = config!;
  // Spread workers over the configured addresses (a primary and its replicas all carry PUBLISH).
  const fixed = settings.redis[(ngx.worker.id() ?? 0) % settings.redis.length];
  let everConnected = false;
  let backoff = BACKOFF_MIN_S;
  while (!ngx.worker.exiting()) {
    const startedAt = ngx.now();
    // with sentinels: the primary they name now (asked again on every connection)
    const [address, resolveErr] = primaryOf !== undefined ? primaryOf() : [fixed, undefined];
    const why = address !== undefined ? serveConnection(settings, address, everConnected) : `${resolveErr}`;
    if (why === "exiting") {
      break;
    }
    if (ngx.now() - startedAt > 1) {
      backoff = BACKOFF_MIN_S; // it had been up: retry quickly
    }
    if (everConnected || connected) {
      ngx.log(ngx.WARN, "pushgate hub: redis connection lost: ", why);
    } else {
      ngx.log(ngx.ERR, "pushgate hub: ", why);
    }
    if (lastReplyAt > 0 && !everConnected) {
      everConnected = true;
    }
    if (everConnected && lastReplyAt >= startedAt) {
      fanout.countReconnect();
      fanout.noticeAll("redis-lost");
    }
    // Exponential backoff with jitter, so the workers of many gateways do not reconnect in step.
    ngx.sleep(backoff * (0.5 + math.random() * 0.5));
    backoff = math.min(backoff * 2, BACKOFF_MAX_S);
  }
  fanout.endAll("shutdown");
}

/**
 * Starts this worker's connection (init_worker, shared mode). `connectHook` runs on each new
 * connection; `restoredHook` reads what was missed after a reconnect.
 */
export function start(settings: Settings, connectHook: (this: void) => void, restoredHook: RestoredHook, primary?: PrimaryHook): void {
  config = settings;
  primaryOf = primary;
  onConnect = connectHook;
  onRestored = restoredHook;
  const [sema, err] = semaphore.new(0);
  if (sema === undefined) {
    error(`pushgate hub: failed to create semaphore: ${err}`);
  }
  writerWake = sema;
  const [ok, timerErr] = ngx.timer.at(0, run);
  if (ok === undefined) {
    error(`pushgate hub: failed to start: ${timerErr}`);
  }
}

export function isConnected(): boolean {
  return connected;
}

/** Has the writer send what the registry now asks for. */
export function wakeWriter(): void {
  writerWake?.post(1);
}
