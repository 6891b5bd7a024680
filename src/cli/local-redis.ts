// The Redis the launcher uses when no PUSHGATE_REDIS_URL is given: the one that answers at
// localRedis, else one it starts there that keeps its data (append-only file) in the runtime dir.

import { resolve } from "node:path";
import { parseRedisUrl, RedisAddress, Settings } from "../config/schema";
import { hostAndPort } from "./addresses";
import { RedisServer, redisAnswers, startRedis } from "./gateway";

export interface LocalRedis {
  address: RedisAddress;
  /** Set when the launcher started it (and so stops it). */
  server?: RedisServer;
  dir: string;
}

/**
 * redis-server options that keep every write in an append-only file, fsynced `fsync`
 * (everysec: at most the last second is lost when the machine crashes; always: nothing).
 */
export function durableArgs(fsync: string): string[] {
  return ["--appendonly", "yes", "--appendfsync", fsync];
}

/** Uses the Redis that answers at settings.localRedis, or starts one there (in its own process group). */
export async function useOrStartLocalRedis(settings: Settings): Promise<LocalRedis> {
  const { host, port } = hostAndPort(settings.localRedis);
  const [address] = parseRedisUrl(`redis://${host}:${port}/0`);
  const dir = resolve(settings.runtimeDir, "redis");
  if (await redisAnswers(host, port)) {
    return { address: address!, dir };
  }
  const server = await startRedis(host, port, dir, durableArgs(settings.redisFsync), { ownGroup: true });
  return { address: address!, server, dir };
}
