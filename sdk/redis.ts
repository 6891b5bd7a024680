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

export interface DurableOptions {
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
  const idem = options.idempotencyKey !== undefined ? idempotencyKey(channel, options.idempotencyKey) : "";
  const args: Array<string | Buffer> = [
    "FCALL",
    "pushgate_publish",
    "3",
    streamKey(channel),
    metaKey(channel),
    idem,
    channel,
    data,
    options.event ?? "",
    `${options.historyLength ?? 1000}`,
    `${(options.historySeconds ?? 86400) * 1000}`,
    `${(options.idempotencySeconds ?? 86400) * 1000}`,
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
