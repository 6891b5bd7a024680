// The multiplexer of a Redis Cluster: this worker's store commands to a node ride the hub's
// connection to that node (shard.ts), the one that also carries the node's sharded
// subscriptions, so Redis sees one connection per worker and primary (the bound: workers ×
// (shards + 1)) however many requests and timers of the worker talk to it at once.
//
// Design: a caller (a request handler or a timer of this worker) hands a pipeline — one command,
// or several that must run back to back on one connection (ASKING and its command, FCALL and the
// WAIT after it, a batch of FCALLs) — to the shard of the node, opening the shard when there is
// none (a shard that carries no channel is just a command connection). The shard's writer sends
// every queued pipeline in one sock:send and appends its waiter to the FIFO of what was sent
// (pending.ts); the reader, on each reply that is not a push, fills the waiter at the head and
// posts its semaphore once it has all its replies. Pushes (messages, confirmations) never touch
// the FIFO, so delivery costs what it did before: no closure or table per message; per command one
// recycled waiter and its replies table.
//
// Failures are values. A connection that fails or ends hands each waiter an error and whether its
// commands had left (a command never sent may be sent again elsewhere, whatever it does); the
// cluster client then refreshes the map and routes again, as it did with pooled connections.
// Error replies (MOVED, ASK, "Function not found") come back as [false, message] for the client
// to act on. A caller waits at most `waitMs`; then it gets "timeout" and its waiter stays in the
// FIFO marked abandoned, so the late replies are read and dropped, never handed to the next.
//
// A caller on a shard's own reader thread (a heal after a re-subscription reads history there, so
// it is queued before any later message) cannot wait for that reader: its commands go on a
// connection of their own, opened and closed for them.
//
// The hub must not import the store: the store imports this file (store/cluster/client.ts,
// pipeline.ts, servers.ts); only this worker's threads may call it (a semaphore is per worker).

import type { RedisAddress } from "../config/schema";
import * as metrics from "../host/metrics";
import { encodeCommand } from "../host/resp";
import { readFrame } from "../host/resp3";
import { shards } from "./carried";
import { newWaiter, recycle } from "./pending";
import { openResp3, shardFor } from "./shard";

/**
 * `commands` on a connection of their own, opened and closed for them: for a caller on the
 * shard's own reader thread, which cannot wait for itself (a heal after a re-subscription reads
 * history there, before any later message of the channel is delivered). Rare: after a loss only.
 */
function callAlone(address: RedisAddress, fragments: string[], count: number, waitMs: number): LuaMultiReturn<[unknown[]] | [undefined, string, boolean]> {
  const [conn, err] = openResp3(address, waitMs);
  if (conn === undefined) {
    return $multi(undefined, err, false);
  }
  const [sent, sendErr] = conn.send(fragments);
  if (sent === undefined) {
    conn.close();
    return $multi(undefined, `${sendErr}`, true);
  }
  const replies: unknown[] = [];
  while (replies.length < count) {
    const [value, readErr, isPush] = readFrame(conn, waitMs, waitMs);
    if (value === undefined) {
      conn.close();
      return $multi(undefined, `${readErr}`, true);
    }
    if (isPush !== true) {
      replies.push(value === false ? [false, readErr] : value);
    }
  }
  conn.close();
  return $multi(replies);
}

/**
 * Sends `commands` (each a list of words) to the node at `address` back to back on this worker's
 * connection to it, and waits at most `waitMs` for their replies. Returns the replies in order (an
 * error reply as [false, message]); or undefined, why, and whether the commands had been sent
 * (false: they never reached Redis and may be sent again anywhere).
 */
export function call(address: RedisAddress, commands: string[][], waitMs: number): LuaMultiReturn<[unknown[]] | [undefined, string, boolean]> {
  const shard = shardFor(address, waitMs);
  if (shard === undefined) {
    return $multi(undefined, `failed to open a connection to redis at ${address.host}:${address.port}`, false);
  }
  if (!shard.alive) {
    return $multi(undefined, `${shard.down ?? "the connection is down"}`, false);
  }
  let fragments: string[];
  if (commands.length === 1) {
    fragments = encodeCommand(commands[0]);
  } else {
    fragments = [];
    for (const words of commands) {
      fragments.push(encodeCommand(words) as unknown as string);
    }
  }
  if (shard.reader !== undefined && shard.reader === coroutine.running()) {
    return callAlone(address, fragments, commands.length, waitMs);
  }
  const [waiter, err] = newWaiter(fragments, commands.length);
  if (waiter === undefined) {
    return $multi(undefined, err, false);
  }
  ngx.update_time();
  const startedAt = ngx.now();
  const deadline = startedAt + waitMs / 1000;
  shard.outbox.push(waiter);
  shard.wake.post(1);
  while (!waiter.done) {
    const left = deadline - ngx.now();
    if (left <= 0) {
      break;
    }
    const [posted] = waiter.sema.wait(left);
    if (posted !== true) {
      break; // timed out (a post that raced it shows as done)
    }
  }
  if (!waiter.done) {
    // the replies still to come are read and dropped; unsent, the writer drops it
    waiter.expected -= waiter.replies.length;
    waiter.abandoned = true;
    return $multi(undefined, `timeout: no reply from redis at ${address.host}:${address.port} within ${waitMs} ms`, waiter.sent);
  }
  metrics.redisCommand((ngx.now() - startedAt) * 1000);
  const replies = waiter.replies;
  const failure = waiter.err;
  const sent = waiter.sent;
  recycle(waiter);
  if (failure !== undefined) {
    return $multi(undefined, failure, sent);
  }
  return $multi(replies);
}

/** One command: its reply, false and an error reply's message, or undefined, why and whether it was sent. */
export function one(address: RedisAddress, words: string[], waitMs: number): LuaMultiReturn<[unknown] | [false | undefined, string, boolean]> {
  const [replies, err, sent] = call(address, [words], waitMs);
  if (replies === undefined) {
    return $multi(undefined, err, sent);
  }
  const reply = replies[0];
  if (type(reply) === "table" && (reply as unknown[])[0] === false) {
    return $multi(false as const, `${(reply as unknown[])[1] as string}`, true);
  }
  return $multi(reply);
}

/** The number of this worker's open connection to `address` (a new connection, a new number), or undefined when none is open. */
export function generation(address: RedisAddress): number | undefined {
  const shard = shards.get(`${address.host}:${address.port}`);
  return shard !== undefined && shard.alive && shard.generation > 0 ? shard.generation : undefined;
}
