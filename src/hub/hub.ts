// The per-worker hub of `shared` mode: one Redis connection in subscribe mode, held by a
// background timer started from init_worker, fanning each message out to the worker's local
// subscribers. A channel is SUBSCRIBEd when its first local subscriber arrives and UNSUBSCRIBEd
// shortly after its last one leaves. Only the hub's own light threads touch its connection: the
// timer's thread reads, a light thread it spawns writes.

import semaphore = require("ngx.semaphore");
import type { Settings } from "../config/schema";
import * as functions from "../host/functions";
import * as redis from "../host/redis";
import { openEnvelope } from "../protocol/envelope";
import type { HubStats } from "../protocol/status";
import { encodeCommand, readReply } from "./resp";

export interface Subscriber {
  sema: NgxSemaphore;
  channels: string[];
  /** The request thread waits on `sema`; the hub posts only then, so posts never pile up. */
  waiting: boolean;
  /**
   * Queue of messages head..tail, four slots each from QUEUE_SLOTS * index: channel, data, id and
   * event name (id and event absent for a plain PUBLISH); a notice has channel "" and its code
   * as data. One table rather than one per field: every idle stream carries it.
   */
  queue: LuaTable<number, string>;
  head: number;
  tail: number;
  bytes: number;
  /** Messages dropped (drop-oldest) and not yet reported to the client. */
  dropped: number;
  /** Set when the hub ends the stream: "overflow" or "shutdown". */
  ended?: string;
}

interface ChannelState {
  subscribers: LuaTable<Subscriber, true>;
  count: number;
  /** What the hub last asked Redis: SUBSCRIBE (true) or UNSUBSCRIBE / nothing (false). */
  onRedis: boolean;
  /** Commands sent for this channel that Redis has not answered yet. */
  inFlight: number;
  emptySince: number;
}

/** Reader wakes this often to check shutdown and liveness (ms). */
const READ_IDLE_MS = 1000;
/** Writer wakes this often to unsubscribe emptied channels and ping (s). */
const WRITER_TICK_S = 0.25;
/** A channel stays subscribed this long after its last subscriber left (s), to absorb reconnects. */
const UNSUBSCRIBE_GRACE_S = 0.5;
/** The writer pings an idle connection this often (s); no reply within LIVENESS_S means it is dead. */
const PING_EVERY_S = 5;
const LIVENESS_S = 15;
/**
 * After this many replies in a row the reader yields, so the streams it woke can write before it
 * reads on: a cosocket read returns without yielding while Redis has more buffered.
 */
const REPLIES_PER_YIELD = 64;
const BACKOFF_MIN_S = 0.1;
const BACKOFF_MAX_S = 5;

export const NOTICE_TEXT: Record<string, string> = {
  "redis-lost": "redis connection lost: messages published until it is restored may be missed",
  "redis-restored": "redis connection restored: subscribed again",
};

const channels = new LuaTable<string, ChannelState>();
/** Every live subscriber of this worker, for notices that go to all. */
const members = new LuaTable<Subscriber, true>();
/** Channels whose Redis subscription may need a SUBSCRIBE or UNSUBSCRIBE. */
const dirty = new LuaTable<string, true>();

let config: Settings | undefined;
let writerWake: NgxSemaphore | undefined;
let sock: NgxTcpSocket | undefined;
let connected = false;
let lastReplyAt = 0;
let lastPingAt = 0;
let channelCount = 0;
let memberCount = 0;
const counters = { messages: 0, reconnects: 0, notices: 0, dropped: 0, overflows: 0 };

function wake(subscriber: Subscriber): void {
  if (subscriber.waiting) {
    subscriber.waiting = false;
    subscriber.sema.post(1);
  }
}

const QUEUE_SLOTS = 4;

/**
 * Takes the oldest queued message: channel ("" for a notice), data, id and event ("" when the
 * message has none). Call only while head <= tail.
 */
export function shift(subscriber: Subscriber): LuaMultiReturn<[string, string, string, string]> {
  const queue = subscriber.queue;
  const slot = subscriber.head * QUEUE_SLOTS;
  const channel = queue.get(slot);
  const data = queue.get(slot + 1);
  const id = queue.get(slot + 2) ?? "";
  const event = queue.get(slot + 3) ?? "";
  queue.delete(slot);
  queue.delete(slot + 1);
  queue.delete(slot + 2);
  queue.delete(slot + 3);
  subscriber.head += 1;
  subscriber.bytes -= data.length;
  return $multi(channel, data, id, event);
}

/** Appends to a subscriber's queue, applying the overflow policy when it is full. */
function enqueue(subscriber: Subscriber, channel: string, data: string, id: string | undefined, event: string | undefined): void {
  if (subscriber.ended !== undefined) {
    return;
  }
  const settings = config!;
  const size = data.length;
  if (subscriber.tail - subscriber.head + 1 >= settings.queueMessages || subscriber.bytes + size > settings.queueBytes) {
    if (settings.overflow === "disconnect") {
      subscriber.ended = "overflow";
      counters.overflows += 1;
      wake(subscriber);
      return;
    }
    while (
      subscriber.head <= subscriber.tail &&
      (subscriber.tail - subscriber.head + 1 >= settings.queueMessages || subscriber.bytes + size > settings.queueBytes)
    ) {
      shift(subscriber);
      subscriber.dropped += 1;
      counters.dropped += 1;
    }
    if (size > settings.queueBytes) {
      subscriber.dropped += 1;
      counters.dropped += 1;
      wake(subscriber);
      return;
    }
  }
  const tail = subscriber.tail + 1;
  subscriber.tail = tail;
  const slot = tail * QUEUE_SLOTS;
  subscriber.queue.set(slot, channel);
  subscriber.queue.set(slot + 1, data);
  if (id !== undefined) {
    subscriber.queue.set(slot + 2, id);
    subscriber.queue.set(slot + 3, event ?? "");
  }
  subscriber.bytes += size;
  wake(subscriber);
}

function noticeAll(code: string): void {
  for (const [subscriber] of members) {
    enqueue(subscriber, "", code, undefined, undefined);
    counters.notices += 1;
  }
}

function deliver(channel: string, payload: string): void {
  counters.messages += 1;
  const state = channels.get(channel);
  if (state === undefined) {
    return;
  }
  // Opened once per message, not per subscriber: every queue shares the same strings.
  const [id, event, data] = openEnvelope(payload);
  for (const [subscriber] of state.subscribers) {
    enqueue(subscriber, channel, data ?? payload, id, event);
  }
}

function acknowledge(channel: string): void {
  const state = channels.get(channel);
  if (state === undefined) {
    return;
  }
  state.inFlight = math.max(0, state.inFlight - 1);
  if (state.inFlight > 0) {
    return;
  }
  if (state.onRedis) {
    for (const [subscriber] of state.subscribers) {
      wake(subscriber);
    }
  } else if (state.count === 0) {
    channels.delete(channel);
    channelCount -= 1;
  }
}

/** Sends the SUBSCRIBE and UNSUBSCRIBE that bring Redis in line with the local subscribers. */
function reconcile(now: number): LuaMultiReturn<[true] | [undefined, string]> {
  const subscribe: string[] = ["SUBSCRIBE"];
  const unsubscribe: string[] = ["UNSUBSCRIBE"];
  for (const [channel] of dirty) {
    const state = channels.get(channel);
    if (state === undefined) {
      dirty.delete(channel);
    } else if (state.count > 0) {
      if (!state.onRedis) {
        subscribe.push(channel);
        state.onRedis = true;
        state.inFlight += 1;
      }
      dirty.delete(channel);
    } else if (state.onRedis) {
      if (now - state.emptySince >= UNSUBSCRIBE_GRACE_S) {
        unsubscribe.push(channel);
        state.onRedis = false;
        state.inFlight += 1;
        dirty.delete(channel);
      }
    } else {
      if (state.inFlight === 0) {
        channels.delete(channel);
        channelCount -= 1;
      }
      dirty.delete(channel);
    }
  }
  const commands: string[][] = [];
  if (subscribe.length > 1) {
    commands.push(encodeCommand(subscribe));
  }
  if (unsubscribe.length > 1) {
    commands.push(encodeCommand(unsubscribe));
  }
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
    const [, err] = reconcile(ngx.now());
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
    deliver(parts[1], parts[2]);
  } else if (kind === "subscribe" || kind === "unsubscribe") {
    acknowledge(parts[1]);
  }
  // "pong" and anything else only proves the connection is alive
}

/** After a connection is lost: nothing is subscribed any more; every channel in use is dirty. */
function forgetRedisState(): void {
  for (const [channel, state] of channels) {
    state.onRedis = false;
    state.inFlight = 0;
    if (state.count > 0) {
      dirty.set(channel, true);
    } else {
      channels.delete(channel);
      channelCount -= 1;
      dirty.delete(channel);
    }
  }
}

function endAll(reason: string): void {
  for (const [subscriber] of members) {
    subscriber.ended = reason;
    wake(subscriber);
  }
}

/** One connection's life: connect, resubscribe, read until it ends. Returns why it ended. */
function serveConnection(settings: Settings, address: Settings["redis"][number], everConnected: boolean): string {
  const [red, connectErr] = redis.connect(address, settings.redisTimeoutMs);
  if (red === undefined) {
    return connectErr;
  }
  // Before the connection enters subscribe mode: make sure Redis has the pushgate functions, so
  // backends can FCALL them by name from the start (and again after a Redis restart).
  const [loaded, loadErr] = functions.loadLibrary(red);
  if (loaded === undefined) {
    ngx.log(ngx.WARN, "pushgate hub: ", loadErr);
  }
  sock = red._sock;
  connected = true;
  lastReplyAt = ngx.now();
  lastPingAt = ngx.now();
  // Resubscribe every channel in use; the writer sends it at once.
  for (const [channel] of channels) {
    dirty.set(channel, true);
  }
  const writer = ngx.thread.spawn(writerLoop, writerWake!);
  if (everConnected) {
    noticeAll("redis-restored");
  }
  let why: string;
  let sinceYield = 0;
  for (;;) {
    const [reply, err] = readReply(sock, READ_IDLE_MS, settings.redisTimeoutMs);
    if (reply !== undefined) {
      lastReplyAt = ngx.now();
      dispatch(reply);
      sinceYield += 1;
      if (sinceYield >= REPLIES_PER_YIELD) {
        sinceYield = 0;
        ngx.sleep(0);
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
  sock.close();
  sock = undefined;
  forgetRedisState();
  return why;
}

function run(this: void, premature: boolean): void {
  if (premature) {
    return;
  }
  const settings = config!;
  // Spread workers over the configured addresses (a primary and its replicas all carry PUBLISH).
  const address = settings.redis[(ngx.worker.id() ?? 0) % settings.redis.length];
  let everConnected = false;
  let backoff = BACKOFF_MIN_S;
  while (!ngx.worker.exiting()) {
    const startedAt = ngx.now();
    const why = serveConnection(settings, address, everConnected);
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
      counters.reconnects += 1;
      noticeAll("redis-lost");
    }
    // Exponential backoff with jitter, so the workers of many gateways do not reconnect in step.
    ngx.sleep(backoff * (0.5 + math.random() * 0.5));
    backoff = math.min(backoff * 2, BACKOFF_MAX_S);
  }
  endAll("shutdown");
}

/** Starts the hub of this worker (init_worker, shared mode). */
export function start(settings: Settings): void {
  config = settings;
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

/** Registers a subscriber for `names`; the writer subscribes what Redis does not carry yet. */
export function join(names: string[]): LuaMultiReturn<[Subscriber] | [undefined, string]> {
  const [sema, err] = semaphore.new(0);
  if (sema === undefined) {
    return $multi(undefined, `failed to create semaphore: ${err}`);
  }
  const subscriber: Subscriber = {
    sema,
    channels: names,
    waiting: false,
    queue: new LuaTable(),
    head: 1,
    tail: 0,
    bytes: 0,
    dropped: 0,
  };
  attach(subscriber, names);
  members.set(subscriber, true);
  memberCount += 1;
  return $multi(subscriber);
}

/** Registers `subscriber` on each of `names`; wakes the writer for what Redis does not carry yet. */
function attach(subscriber: Subscriber, names: string[]): void {
  let needsWriter = false;
  for (const name of names) {
    let state = channels.get(name);
    if (state === undefined) {
      state = { subscribers: new LuaTable(), count: 0, onRedis: false, inFlight: 0, emptySince: 0 };
      channels.set(name, state);
      channelCount += 1;
    }
    state.subscribers.set(subscriber, true);
    state.count += 1;
    if (!state.onRedis) {
      dirty.set(name, true);
      needsWriter = true;
    }
  }
  if (needsWriter) {
    writerWake!.post(1);
  }
}

/** True once Redis has confirmed every channel of the subscriber on the live connection. */
export function isReady(subscriber: Subscriber): boolean {
  if (!connected) {
    return false;
  }
  for (const name of subscriber.channels) {
    const state = channels.get(name);
    if (state === undefined || !state.onRedis || state.inFlight > 0) {
      return false;
    }
  }
  return true;
}

export function leave(subscriber: Subscriber): void {
  if (!members.has(subscriber)) {
    return;
  }
  members.delete(subscriber);
  memberCount -= 1;
  detach(subscriber, subscriber.channels);
}

/** Unregisters `subscriber` from each of `names`; an emptied channel is unsubscribed after the grace. */
function detach(subscriber: Subscriber, names: string[]): void {
  const now = ngx.now();
  for (const name of names) {
    const state = channels.get(name);
    if (state !== undefined && state.subscribers.has(subscriber)) {
      state.subscribers.delete(subscriber);
      state.count -= 1;
      if (state.count === 0) {
        state.emptySince = now;
        dirty.set(name, true);
      }
    }
  }
}

/** Adds channels to a live subscriber (ones it has already are skipped); see isReady(). */
export function addChannels(subscriber: Subscriber, names: string[]): void {
  const current = new LuaTable<string, true>();
  for (const name of subscriber.channels) {
    current.set(name, true);
  }
  const fresh: string[] = [];
  for (const name of names) {
    if (!current.has(name)) {
      current.set(name, true);
      fresh.push(name);
      subscriber.channels.push(name);
    }
  }
  attach(subscriber, fresh);
}

/** Removes channels from a live subscriber: the hub queues nothing more from them for it. */
export function removeChannels(subscriber: Subscriber, names: string[]): void {
  const removed = new LuaTable<string, true>();
  for (const name of names) {
    removed.set(name, true);
  }
  const kept: string[] = [];
  for (const name of subscriber.channels) {
    if (!removed.has(name)) {
      kept.push(name);
    }
  }
  subscriber.channels = kept;
  detach(subscriber, names);
}

export function stats(): HubStats {
  return { connected, channels: channelCount, subscribers: memberCount, ...counters };
}
