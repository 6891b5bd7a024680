// One node's connection in a Redis Cluster: per worker and primary, the one connection that
// carries both the hub's sharded subscriptions (shards.ts routes channels to it) and this worker's
// store commands to that node (mux.ts hands them over), so Redis sees workers × shards connections.
// It speaks RESP3 (HELLO 3): a subscribed connection then takes any command, pub/sub messages and
// (s)subscribe confirmations come as push frames, replies to commands in order as ordinary frames.
// A timer of its own holds it (a cosocket belongs to the thread that made it): its thread reads
// (pushes fan out, replies answer the head of the FIFO of what was sent, pending.ts), a light
// thread it spawns writes its outbox, everything queued in one sock:send, and a PING now and then.
// A MOVED answer to SSUBSCRIBE, a `sunsubscribe` the server pushes (the slot moved) or the end of
// the connection hand the channels back to the router; the end of the connection also tells every
// waiting command (whether it had been sent), so the cluster client can route it again.

import type { RedisAddress } from "../config/schema";
import * as redis from "../host/redis";
import { encodeCommand } from "../host/resp";
import { readFrame } from "../host/resp3";
import { hooks, lose, newSemaphore, rerouteLater, restore, Shard, shardOf, shards } from "./carried";
import * as fanout from "./fanout";
import { fail, isWaiter, newFifo, peek, Pending, pop, push, recycle, answer } from "./pending";
import * as registry from "./registry";
import { EXIT_CHECK_S, LIVENESS_S, PING_EVERY_S, READ_IDLE_MS, REPLIES_PER_YIELD, WRITER_TICK_S, YIELD_S } from "./timing";

const RETRY_WAIT_S = 0.25;
/** Each new connection's number in this worker (mux.generation). */
let generations = 0;

function writerLoop(this: void, shard: Shard, sock: NgxTcpSocket): void {
  let pingedAt = ngx.now();
  while (shard.alive) {
    const commands: unknown[] = [];
    const now = ngx.now();
    for (const item of shard.outbox) {
      if (!isWaiter(item)) {
        push(shard.sent, item);
        commands.push(encodeCommand([item[0], item[1]]));
      } else if (item.abandoned) {
        recycle(item); // its caller gave up before it left: never sent
      } else {
        item.sent = true;
        item.sentAt = now;
        push(shard.sent, item);
        commands.push(item.fragments);
      }
    }
    shard.outbox = [];
    if (now - pingedAt >= PING_EVERY_S) {
      pingedAt = now;
      push(shard.sent, ["PING", ""]);
      commands.push(encodeCommand(["PING"]));
    }
    if (commands.length > 0) {
      const [sent, err] = sock.send(commands as string[]);
      if (sent === undefined) {
        ngx.log(ngx.WARN, "pushgate hub: failed to send to redis: ", err);
        sock.close(); // the reader sees the connection end
        return;
      }
    }
    shard.wake.wait(WRITER_TICK_S);
  }
}

/** A push: a message fans out, a confirmation answers its SSUBSCRIBE, an unasked `sunsubscribe` loses the channel. */
function dispatchPush(shard: Shard, parts: string[]): void {
  const kind = parts[0];
  if (kind === "smessage" || kind === "message") {
    fanout.deliver(parts[1], parts[2]);
    return;
  }
  const head = peek(shard.sent);
  const asked = head !== undefined && !isWaiter(head) && head[1] === parts[1] && string.lower(head[0]) === kind;
  if (kind === "sunsubscribe" && !asked) {
    // not an answer: the server stopped carrying it (its slot moved, or this node is no longer a primary)
    if (shardOf.get(parts[1]) === shard) {
      rerouteLater(parts[1], math.floor(shard.lastReplyAt * 1000));
    }
    return;
  }
  if (!asked) {
    ngx.log(ngx.INFO, "pushgate hub: unexpected push ", kind);
    return;
  }
  pop(shard.sent);
  if (kind === "ssubscribe" || kind === "sunsubscribe") {
    registry.confirmed(parts[1]);
    if (kind === "ssubscribe") {
      restore(parts[1]);
    }
  }
}

/** A reply (not a push) answers the oldest command sent; undefined, or why the connection is out of step. */
function dispatchReply(shard: Shard, value: unknown, errorReply: string | undefined): string | undefined {
  const head = peek(shard.sent);
  if (head === undefined) {
    return "a reply to no command";
  }
  if (isWaiter(head)) {
    answer(shard.sent, head, errorReply === undefined ? value : [false, errorReply]);
    return undefined;
  }
  if (errorReply === undefined) {
    // a PING's PONG; a subscription command is answered by a push, or refused
    pop(shard.sent);
    return head[0] === "PING" ? undefined : `a reply to ${head[0]} that is no push`;
  }
  pop(shard.sent);
  ngx.log(ngx.INFO, "pushgate hub: ", errorReply);
  if (head[0] === "SSUBSCRIBE" && shardOf.get(head[1]) === shard) {
    rerouteLater(head[1], math.floor(ngx.now() * 1000)); // MOVED: subscribed again where the map says
  } else if (head[0] === "SUNSUBSCRIBE") {
    registry.confirmed(head[1]);
  }
  return undefined;
}

/** Whether the oldest command sent has waited past any reply Redis owes it (its waiter gave up long ago). */
function stuck(shard: Shard, now: number): boolean {
  const head = peek(shard.sent);
  return head !== undefined && isWaiter(head) && now - head.sentAt > (shard.timeoutMs * 2) / 1000 + 1 && now - shard.lastReplyAt > 1;
}

/** Reads until the connection ends; why it ended. */
function readLoop(shard: Shard, conn: NgxTcpSocket): string {
  let sinceYield = 0;
  let exitCheckedAt = ngx.now();
  for (;;) {
    const [value, err, isPush] = readFrame(conn, READ_IDLE_MS, shard.timeoutMs);
    if (value !== undefined) {
      shard.lastReplyAt = ngx.now();
      if (isPush === true) {
        dispatchPush(shard, value as string[]);
      } else {
        const outOfStep = dispatchReply(shard, value, value === false ? err : undefined);
        if (outOfStep !== undefined) {
          return outOfStep;
        }
      }
      // as connection.ts: let the woken streams write now and then, and notice a reload under steady traffic
      sinceYield += 1;
      if (sinceYield >= REPLIES_PER_YIELD) {
        sinceYield = 0;
        ngx.sleep(YIELD_S);
      }
      if (shard.lastReplyAt - exitCheckedAt >= EXIT_CHECK_S) {
        exitCheckedAt = shard.lastReplyAt;
        if (ngx.worker.exiting()) {
          return "exiting";
        }
      }
    } else if (err !== "timeout") {
      return `${err}`;
    } else if (ngx.worker.exiting()) {
      return "exiting";
    } else if (ngx.now() - shard.lastReplyAt > LIVENESS_S) {
      return "no reply to ping";
    } else if (stuck(shard, ngx.now())) {
      return "no reply to a command";
    }
  }
}

/** A connection to `address` in RESP3 (authenticated inside HELLO when a password is set). */
export function openResp3(address: RedisAddress, timeoutMs: number): LuaMultiReturn<[NgxTcpSocket] | [undefined, string]> {
  const [conn, err] = redis.connectSubscriber({ host: address.host, port: address.port, db: 0, url: address.url }, timeoutMs);
  if (conn === undefined) {
    return $multi(undefined, err);
  }
  const hello = ["HELLO", "3"];
  const password = address.password;
  if (password !== undefined) {
    hello.push("AUTH", "default", password);
  }
  const [sent, sendErr] = conn.send(encodeCommand(hello));
  if (sent === undefined) {
    conn.close();
    return $multi(undefined, `failed to switch redis at ${address.host}:${address.port} to RESP3: ${sendErr}`);
  }
  const [greeting, helloErr] = readFrame(conn, timeoutMs, timeoutMs);
  if (greeting === undefined || greeting === false) {
    conn.close();
    return $multi(undefined, `failed to switch redis at ${address.host}:${address.port} to RESP3: ${helloErr}`);
  }
  return $multi(conn);
}

/** Every waiter still in the FIFO or the outbox learns that the connection ended, and whether its commands left. */
function failWaiters(shard: Shard, why: string): void {
  const name = `${shard.address.host}:${shard.address.port}`;
  for (let item = pop(shard.sent); item !== undefined; item = pop(shard.sent)) {
    failItem(item, `the connection to redis at ${name} was lost: ${why}`);
  }
  for (const item of shard.outbox) {
    failItem(item, `failed to reach redis at ${name}: ${why}`);
  }
  shard.outbox = [];
}

/** A waiter learns `why`; an unsubscribe this connection can no longer carry out is as good as done. */
function failItem(item: Pending, why: string): void {
  if (isWaiter(item)) {
    fail(item, why);
  } else if (item[0] === "SUNSUBSCRIBE") {
    registry.confirmed(item[1]);
  }
}

function connectedLater(this: void, premature: boolean): void {
  if (!premature) {
    hooks.onConnect?.(); // e.g. load the pushgate functions on a primary new to the cluster
  }
}

/** A shard's life: connect, write and read until the connection ends, then hand its channels and commands back. */
function runShard(this: void, premature: boolean, name: string, shard: Shard): void {
  let why = "exiting";
  if (!premature) {
    const [conn, err] = openResp3(shard.address, shard.timeoutMs);
    if (conn === undefined) {
      why = err;
      shard.alive = false;
      shard.down = err;
      failWaiters(shard, err);
      ngx.sleep(RETRY_WAIT_S); // a dead primary: give the cluster a moment to promote its replica
    } else {
      generations += 1;
      shard.generation = generations;
      shard.lastReplyAt = ngx.now();
      ngx.timer.at(0, connectedLater);
      const writer = ngx.thread.spawn(writerLoop, shard, conn);
      shard.reader = coroutine.running();
      why = readLoop(shard, conn);
      shard.reader = undefined;
      shard.alive = false;
      shard.wake.post(1);
      ngx.thread.kill(writer);
      conn.close();
    }
  }
  shard.alive = false;
  shard.down ??= why;
  if (shards.get(name) === shard) {
    shards.delete(name);
  }
  failWaiters(shard, why);
  if (why === "exiting") {
    return; // the router ends every stream
  }
  const since = math.floor(shard.lastReplyAt * 1000);
  const lost: string[] = [];
  for (const [channel, owner] of shardOf) {
    if (owner === shard) {
      lost.push(channel);
    }
  }
  for (const channel of lost) {
    lose(channel, since);
  }
  ngx.log(ngx.WARN, `pushgate hub: redis shard ${name} lost: ${why}`);
  fanout.countReconnect();
  hooks.map?.changed();
  hooks.routerWake?.post(1);
}

/** This worker's shard of the node at `address`: a new one (connecting) when there is none. */
export function shardFor(address: RedisAddress, timeoutMs?: number): Shard | undefined {
  const name = `${address.host}:${address.port}`;
  let shard = shards.get(name);
  if (shard === undefined) {
    // the gateway's Redis timeout; without the hub started (a test of the store alone), the first caller's
    const wait = hooks.settings?.redisTimeoutMs ?? timeoutMs ?? 1000;
    shard = {
      address,
      outbox: [],
      sent: newFifo(),
      wake: newSemaphore(),
      alive: true,
      down: undefined,
      lastReplyAt: ngx.now(),
      generation: 0,
      timeoutMs: wait,
      reader: undefined,
    };
    const [ok, err] = ngx.timer.at(0, runShard, name, shard);
    if (ok === undefined) {
      ngx.log(ngx.ERR, "pushgate hub: failed to start a shard: ", err);
      return undefined;
    }
    shards.set(name, shard);
  }
  return shard;
}
