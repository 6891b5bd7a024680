// The one place that finds lua-resty-redis (OpenResty: `resty.redis`, Debian: `nginx.redis`) and
// opens connections to the configured Redis.

import type { RedisAddress } from "../config/schema";

/** Where lua-resty-redis lives: OpenResty's name first, then Debian's. */
const REDIS_MODULE_NAMES = ["resty.redis", "nginx.redis"];

let redisModule: RestyRedisModule | undefined;

function restyRedis(): RestyRedisModule {
  if (redisModule === undefined) {
    for (const name of REDIS_MODULE_NAMES) {
      const [found, mod] = pcall(require, name);
      if (found) {
        redisModule = mod as RestyRedisModule;
        return redisModule;
      }
    }
    error(`lua-resty-redis not found as ${REDIS_MODULE_NAMES.join(" or ")}: install lua-nginx-redis`);
  }
  return redisModule;
}

/**
 * Connections for request/response commands (publish) per worker: at most this many at once,
 * further callers queue, so the gateway's Redis connections stay bounded by the worker count.
 */
const COMMAND_POOL_SIZE = 1;
const COMMAND_POOL_BACKLOG = 4096;

/**
 * Connects to `address`, leaving from `sourceAddress` when one is given (tcpsock:bind), and
 * authenticates and selects the database on a fresh connection (a pooled one already is).
 * `pooled` connections come from and go back to the worker's bounded command pool (release()).
 */
export function connect(address: RedisAddress, timeoutMs: number, sourceAddress?: string, pooled = false): LuaMultiReturn<[RestyRedis] | [undefined, string]> {
  const [red, newErr] = restyRedis().new();
  if (red === undefined) {
    return $multi(undefined, `failed to create redis client: ${newErr}`);
  }
  red.set_timeout(timeoutMs);
  if (sourceAddress !== undefined) {
    // resty.redis has no bind(); its cosocket is the private field _sock.
    const [bound, bindErr] = red._sock.bind(sourceAddress);
    if (bound === undefined) {
      return $multi(undefined, `failed to bind redis connection to ${sourceAddress}: ${bindErr}`);
    }
  }
  const pool = `${address.host}:${address.port}/${address.db}`;
  const options = pooled ? { pool, pool_size: COMMAND_POOL_SIZE, backlog: COMMAND_POOL_BACKLOG } : { pool: `${pool}/single` };
  const [connected, connectErr] = red.connect(address.host, address.port, options);
  if (connected === undefined) {
    return $multi(undefined, `failed to connect to redis at ${address.host}:${address.port}: ${connectErr}`);
  }
  const [reused] = red.get_reused_times();
  if (reused === 0) {
    if (address.password !== undefined) {
      const [authed, authErr] = red.auth(address.password);
      if (authed === undefined || authed === false) {
        red.close();
        return $multi(undefined, `failed to authenticate to redis: ${authErr}`);
      }
    }
    if (address.db !== 0) {
      const [selected, selectErr] = red.select(address.db);
      if (selected === undefined || selected === false) {
        red.close();
        return $multi(undefined, `failed to select redis database ${address.db}: ${selectErr}`);
      }
    }
  }
  return $multi(red);
}

/**
 * Hands a connection back to the worker's pool (for request/response commands only). With
 * `lost` (a command failed on the connection itself, see functions.call), it is closed instead:
 * a broken connection must not be reused.
 */
export function release(red: RestyRedis, lost = false): void {
  if (lost) {
    red.close();
    return;
  }
  const [kept] = red.set_keepalive(60000, COMMAND_POOL_SIZE);
  if (kept === undefined) {
    red.close();
  }
}
