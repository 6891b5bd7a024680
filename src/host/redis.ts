// The one place that finds lua-resty-redis (OpenResty: `resty.redis`, Debian: `nginx.redis`) and
// opens connections to a Redis address: pooled resty.redis clients for request/response commands
// (the store's), and raw cosockets for connections in subscribe mode (the hub's and direct
// mode's), which speak RESP through host/resp.ts. Every store operation takes its connection
// here and hands it back here, so the time between the two is what Redis took for it: the
// pushgate_redis_command_duration_seconds histogram (host/metrics.ts).

import type { RedisAddress } from "../config/schema";
import * as metrics from "./metrics";
import * as problems from "./problems";
import { encodeCommand, readReply } from "./resp";

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
 * Connections for request/response commands per worker and address: at most this many at once,
 * further callers queue, so the gateway's Redis connections stay bounded by the worker count.
 */
const COMMAND_POOL_SIZE = 1;
const COMMAND_POOL_BACKLOG = 4096;
const POOL_IDLE_MS = 60000;
/** The field of a resty.redis client (a Lua table of its own) holding when it was handed out (s). */
const SINCE = "pushgate_since";

function markSince(red: RestyRedis): void {
  ngx.update_time(); // a pooled connection comes back without yielding: the cached time may be old
  (red as unknown as LuaTable<string, number>).set(SINCE, ngx.now());
}

/** Counts the time `red` was held (connect → release) in the Redis command histogram. */
function observeHeld(red: RestyRedis): void {
  const fields = red as unknown as LuaTable<string, number | undefined>;
  const since = fields.get(SINCE);
  if (since !== undefined) {
    fields.delete(SINCE);
    ngx.update_time();
    metrics.redisCommand((ngx.now() - since) * 1000);
  }
}

function where(address: RedisAddress): string {
  return `${address.host}:${address.port}`;
}

/**
 * A pooled resty.redis connection to `address`, authenticated and with its database selected
 * (a reused one already is). Hand it back with release().
 */
export function connect(address: RedisAddress, timeoutMs: number): LuaMultiReturn<[RestyRedis] | [undefined, string]> {
  const [red, newErr] = restyRedis().new();
  if (red === undefined) {
    return $multi(undefined, `failed to create redis client: ${newErr}`);
  }
  red.set_timeout(timeoutMs);
  const options = { pool: `${where(address)}/${address.db}`, pool_size: COMMAND_POOL_SIZE, backlog: COMMAND_POOL_BACKLOG };
  const [connected, connectErr] = red.connect(address.host, address.port, options);
  if (connected === undefined) {
    const message = `failed to connect to redis at ${where(address)}: ${connectErr}`;
    problems.note("error", message);
    return $multi(undefined, message);
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
  markSince(red);
  return $multi(red);
}

/**
 * Hands a pooled connection back. With `lost` (a command failed on the connection itself) it is
 * closed instead: a broken connection must not be reused.
 */
export function release(red: RestyRedis, lost = false): void {
  observeHeld(red);
  if (lost) {
    red.close();
    return;
  }
  const [kept] = red.set_keepalive(POOL_IDLE_MS, COMMAND_POOL_SIZE);
  if (kept === undefined) {
    red.close();
  }
}

/** Sends one command on a raw connection and reads its reply. */
function command(sock: NgxTcpSocket, args: string[], timeoutMs: number): LuaMultiReturn<[unknown] | [undefined, string]> {
  const [sent, sendErr] = sock.send(encodeCommand(args));
  if (sent === undefined) {
    return $multi(undefined, sendErr);
  }
  return readReply(sock, timeoutMs, timeoutMs);
}

/**
 * A raw connection for subscribe mode (not pooled), leaving from `sourceAddress` when one is given,
 * authenticated and with its database selected.
 */
export function connectSubscriber(address: RedisAddress, timeoutMs: number, sourceAddress?: string): LuaMultiReturn<[NgxTcpSocket] | [undefined, string]> {
  const sock = ngx.socket.tcp();
  sock.settimeout(timeoutMs);
  if (sourceAddress !== undefined) {
    const [bound, bindErr] = sock.bind(sourceAddress);
    if (bound === undefined) {
      return $multi(undefined, `failed to bind redis connection to ${sourceAddress}: ${bindErr}`);
    }
  }
  const [connected, connectErr] = sock.connect(address.host, address.port);
  if (connected === undefined) {
    const message = `failed to connect to redis at ${where(address)}: ${connectErr}`;
    problems.note("error", message);
    return $multi(undefined, message);
  }
  if (address.password !== undefined) {
    const [, authErr] = command(sock, ["AUTH", address.password], timeoutMs);
    if (authErr !== undefined) {
      sock.close();
      return $multi(undefined, `failed to authenticate to redis: ${authErr}`);
    }
  }
  if (address.db !== 0) {
    const [, selectErr] = command(sock, ["SELECT", `${address.db}`], timeoutMs);
    if (selectErr !== undefined) {
      sock.close();
      return $multi(undefined, `failed to select redis database ${address.db}: ${selectErr}`);
    }
  }
  return $multi(sock);
}
