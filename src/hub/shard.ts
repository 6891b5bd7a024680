// One shard's subscribe connection in a Redis Cluster (shards.ts routes channels to it): a timer
// of its own (a cosocket belongs to the thread that made it) whose thread reads and fans out,
// and a light thread it spawns that writes its outbox (SSUBSCRIBE / SUNSUBSCRIBE, one channel
// each, and a PING now and then). Replies come in the order of the commands; a MOVED answer to
// SSUBSCRIBE, a `sunsubscribe` the server pushes (the slot moved) or the end of the connection
// hand the channels back to the router.

import type { RedisAddress, Settings } from "../config/schema";
import * as redis from "../host/redis";
import { encodeCommand, readReply } from "../host/resp";
import { hooks, lose, newSemaphore, rerouteLater, restore, Shard, shardOf, shards } from "./carried";
import * as fanout from "./fanout";
import * as registry from "./registry";
import { EXIT_CHECK_S, LIVENESS_S, PING_EVERY_S, READ_IDLE_MS, REPLIES_PER_YIELD, WRITER_TICK_S, YIELD_S } from "./timing";

const RETRY_WAIT_S = 0.25;

function writerLoop(this: void, shard: Shard, sock: NgxTcpSocket): void {
  let pingedAt = ngx.now();
  while (shard.alive) {
    const commands: string[][] = [];
    for (const item of shard.outbox) {
      shard.sent.push(item);
      commands.push(encodeCommand([item[0], item[1]]));
    }
    shard.outbox = [];
    if (ngx.now() - pingedAt >= PING_EVERY_S) {
      pingedAt = ngx.now();
      shard.sent.push(["PING", ""]);
      commands.push(encodeCommand(["PING"]));
    }
    if (commands.length > 0) {
      const [sent, err] = sock.send(commands);
      if (sent === undefined) {
        ngx.log(ngx.WARN, "pushgate hub: failed to send to redis: ", err);
        sock.close(); // the reader sees the connection end
        return;
      }
    }
    shard.wake.wait(WRITER_TICK_S);
  }
}

/** One reply of a shard's connection; a redirect or a `sunsubscribe` push loses the channel. */
function dispatch(shard: Shard, parts: string[]): void {
  const kind = parts[0];
  if (kind === "smessage" || kind === "message") {
    fanout.deliver(parts[1], parts[2]);
    return;
  }
  const head = shard.sent[0];
  if (kind === "sunsubscribe" && (head === undefined || head[0] !== "SUNSUBSCRIBE" || head[1] !== parts[1])) {
    // not an answer: the server stopped carrying it (its slot moved, or this node is no longer a primary)
    if (shardOf.get(parts[1]) === shard) {
      rerouteLater(parts[1], math.floor(shard.lastReplyAt * 1000));
    }
    return;
  }
  table.remove(shard.sent, 1);
  if (kind === "ssubscribe" || kind === "sunsubscribe") {
    registry.confirmed(parts[1]);
    if (kind === "ssubscribe") {
      restore(parts[1]);
    }
  }
}

/** An error reply answers the oldest command sent: an SSUBSCRIBE refused (MOVED) is subscribed again. */
function refused(shard: Shard, err: string): void {
  const head = table.remove(shard.sent, 1);
  ngx.log(ngx.INFO, "pushgate hub: ", err);
  if (head !== undefined && head[0] === "SSUBSCRIBE" && shardOf.get(head[1]) === shard) {
    rerouteLater(head[1], math.floor(ngx.now() * 1000));
  } else if (head !== undefined && head[0] === "SUNSUBSCRIBE") {
    registry.confirmed(head[1]);
  }
}

/** Reads until the connection ends; why it ended. */
function readLoop(shard: Shard, conn: NgxTcpSocket, settings: Settings): string {
  let sinceYield = 0;
  let exitCheckedAt = ngx.now();
  for (;;) {
    const [reply, err] = readReply(conn, READ_IDLE_MS, settings.redisTimeoutMs);
    if (reply !== undefined) {
      shard.lastReplyAt = ngx.now();
      if (type(reply) === "table") {
        dispatch(shard, reply as string[]);
      } else {
        table.remove(shard.sent, 1); // +PONG: a PING on a connection with no subscription left
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
    } else if (string.sub(err, 1, 12) === "redis error:") {
      shard.lastReplyAt = ngx.now();
      refused(shard, err);
    } else if (err !== "timeout") {
      return err;
    } else if (ngx.worker.exiting()) {
      return "exiting";
    } else if (ngx.now() - shard.lastReplyAt > LIVENESS_S) {
      return "no reply to ping";
    }
  }
}

/** A shard's life: connect, write and read until the connection ends, then hand its channels back. */
function runShard(this: void, premature: boolean, name: string, shard: Shard): void {
  const settings = hooks.settings!;
  let why = "exiting";
  if (!premature) {
    const [conn, err] = redis.connectSubscriber(shard.address, settings.redisTimeoutMs);
    if (conn === undefined) {
      why = err;
      ngx.sleep(RETRY_WAIT_S); // a dead primary: give the cluster a moment to promote its replica
    } else {
      shard.lastReplyAt = ngx.now();
      // make sure this primary has the pushgate functions (a node new to the cluster has none)
      hooks.onConnect?.();
      const writer = ngx.thread.spawn(writerLoop, shard, conn);
      why = readLoop(shard, conn, settings);
      shard.alive = false;
      shard.wake.post(1);
      ngx.thread.kill(writer);
      conn.close();
    }
  }
  shard.alive = false;
  shards.delete(name);
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
  // an unsubscribe this connection can no longer carry out is as good as done
  for (const pending of [shard.sent, shard.outbox]) {
    for (const item of pending) {
      if (item[0] === "SUNSUBSCRIBE") {
        registry.confirmed(item[1]);
      }
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

export function shardFor(address: RedisAddress): Shard | undefined {
  const name = `${address.host}:${address.port}`;
  let shard = shards.get(name);
  if (shard === undefined) {
    shard = { address, outbox: [], sent: [], wake: newSemaphore(), alive: true, lastReplyAt: ngx.now() };
    const [ok, err] = ngx.timer.at(0, runShard, name, shard);
    if (ok === undefined) {
      ngx.log(ngx.ERR, "pushgate hub: failed to start a shard: ", err);
      return undefined;
    }
    shards.set(name, shard);
  }
  return shard;
}
