// Publishing straight to Redis: a plain PUBLISH, what a backend with Redis access does without
// going through the gateway. Subscribers receive the message as-is, with no id.

import { CHANNEL_RULE, isValidChannel } from "../src/protocol/channel";

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
