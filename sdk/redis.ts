// Publishing straight to Redis, without going through the gateway: durably through the gateway's
// Redis function (kept, with an id, resumable), or as a plain PUBLISH (as-is, no id, not kept).

import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { CHANNEL_RULE, isValidChannel } from "../src/protocol/channel";
import { isValidEvent } from "../src/protocol/envelope";
import { idempotencyKey, isValidIdempotencyKey, metaKey, streamKey } from "../src/protocol/keys";

/** What publish needs of a Redis client; a connected node-redis client has it. */
export interface RedisPublisher {
  publish(channel: string, message: string | Buffer): Promise<number>;
}

/**
 * PUBLISHes `data` to `channel` with `client` (a connected node-redis client). Resolves to the
 * number of Redis subscriptions that received it; rejects with a TypeError on an invalid channel
 * name (checked before anything is sent), and with the client's error when Redis fails.
 */
export async function publish(client: RedisPublisher, channel: string, data: string | Buffer): Promise<number> {
  if (!isValidChannel(channel)) {
    throw new TypeError(`invalid channel name: a name is ${CHANNEL_RULE}`);
  }
  return client.publish(channel, data);
}

/** What publishDurable needs of a Redis client; a connected node-redis client has it. */
export interface RedisCommander {
  sendCommand(args: Array<string | Buffer>): Promise<unknown>;
}

/** A Redis Cluster client that routes a command by its first key; a node-redis cluster client (createCluster) has it. */
export interface RedisClusterCommander {
  sendCommand(firstKey: string, isReadonly: boolean, args: Array<string | Buffer>): Promise<unknown>;
}

/**
 * A RedisCommander for publishDurable on `channel` through a cluster client: every command goes
 * to the primary owning the channel's slot (its keys all carry the channel as hash tag).
 */
export function channelCommander(cluster: RedisClusterCommander, channel: string): RedisCommander {
  const key = streamKey(channel);
  return { sendCommand: (args) => cluster.sendCommand(key, false, args) };
}

export interface DurableOptions {
  /**
   * The gateway runs on a Redis Cluster (redis+cluster://): the message goes out with SPUBLISH, as
   * the gateway subscribes there with SSUBSCRIBE. Give `client` as channelCommander(cluster, channel).
   */
  sharded?: boolean;
  /** Event name (1 to 64 of A-Z a-z 0-9 _ - . :). */
  event?: string;
  /** A retry with the same key within `idempotencySeconds` is stored and sent once. */
  idempotencyKey?: string;
  /** The channel's history caps; give what PUSHGATE_HISTORY says for the channel (default 1000 / 86400). */
  historyLength?: number;
  historySeconds?: number;
  idempotencySeconds?: number;
}

export interface DurablePublished {
  id: string;
  subscribers: number;
  duplicate: boolean;
}

const LIBRARY = resolve(__dirname, "../../redis/pushgate.lua");

/**
 * Publishes durably, as POST /pub does: the Redis function pushgate_publish keeps the message in
 * the channel's capped stream and PUBLISHes it with its id, atomically. Loads the function library
 * into Redis first when it is missing there. Rejects with a TypeError on invalid input.
 */
export async function publishDurable(client: RedisCommander, channel: string, data: string | Buffer, options: DurableOptions = {}): Promise<DurablePublished> {
  if (!isValidChannel(channel)) {
    throw new TypeError(`invalid channel name: a name is ${CHANNEL_RULE}`);
  }
  if (options.event !== undefined && !isValidEvent(options.event)) {
    throw new TypeError("invalid event name: 1 to 64 characters of A-Z a-z 0-9 _ - . :");
  }
  if (options.idempotencyKey !== undefined && !isValidIdempotencyKey(options.idempotencyKey)) {
    throw new TypeError("invalid idempotency key: 1 to 128 visible ASCII characters");
  }
  // Every key is of the channel's slot: without an idempotency key that key is left out ('' would
  // be a key of slot 0, and a cluster would answer CROSSSLOT), as the gateway's own publish does.
  const keys = [streamKey(channel), metaKey(channel)];
  if (options.idempotencyKey !== undefined) {
    keys.push(idempotencyKey(channel, options.idempotencyKey));
  }
  const args: Array<string | Buffer> = [
    "FCALL",
    "pushgate_publish",
    `${keys.length}`,
    ...keys,
    channel,
    data,
    options.event ?? "",
    `${options.historyLength ?? 1000}`,
    `${(options.historySeconds ?? 86400) * 1000}`,
    `${(options.idempotencySeconds ?? 86400) * 1000}`,
    options.sharded === true ? "SPUBLISH" : "PUBLISH",
  ];
  let reply: unknown;
  try {
    reply = await client.sendCommand(args);
  } catch (e) {
    if (!String((e as Error).message).includes("Function not found")) {
      throw e;
    }
    await client.sendCommand(["FUNCTION", "LOAD", "REPLACE", readFileSync(LIBRARY, "utf8")]);
    reply = await client.sendCommand(args);
  }
  const [id, subscribers, duplicate] = reply as [string, number, number];
  return { id: String(id), subscribers: Number(subscribers), duplicate: Number(duplicate) === 1 };
}
