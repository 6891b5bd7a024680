// Declarations for lua-resty-redis (Debian: `nginx.redis`, OpenResty: `resty.redis`) and lua-cjson.

/** A Redis reply as lua-resty-redis returns it: bulk strings, integers, nested arrays, ngx.null. */
type RedisReply = string | number | RedisReply[] | unknown;

/** resty.redis instance: every method is called with `:` and keeps `this`. */
interface RestyRedis {
  connect(this: RestyRedis, host: string, port?: number, options?: { pool?: string; pool_size?: number; backlog?: number }): LuaMultiReturn<[1] | [undefined, string]>;
  set_timeout(this: RestyRedis, ms: number): void;
  set_timeouts(this: RestyRedis, connectMs: number, sendMs: number, readMs: number): void;
  set_keepalive(this: RestyRedis, maxIdleMs: number, poolSize: number): LuaMultiReturn<[1] | [undefined, string]>;
  get_reused_times(this: RestyRedis): LuaMultiReturn<[number] | [undefined, string]>;
  close(this: RestyRedis): LuaMultiReturn<[1] | [undefined, string]>;
  auth(this: RestyRedis, password: string): LuaMultiReturn<[string] | [undefined | false, string]>;
  select(this: RestyRedis, db: number): LuaMultiReturn<[string] | [undefined | false, string]>;
  publish(this: RestyRedis, channel: string, message: string): LuaMultiReturn<[number] | [undefined | false, string]>;
  subscribe(this: RestyRedis, ...channels: string[]): LuaMultiReturn<[RedisReply[]] | [undefined | false, string]>;
  unsubscribe(this: RestyRedis, ...channels: string[]): LuaMultiReturn<[RedisReply[]] | [undefined | false, string]>;
  /** Reads one reply pushed by Redis in subscribe mode; err "timeout" leaves the connection usable. */
  read_reply(this: RestyRedis): LuaMultiReturn<[RedisReply[]] | [undefined | false, string]>;
  /** The underlying cosocket; resty.redis keeps it in the private field `_sock`. */
  _sock: NgxTcpSocket;
}

interface RestyRedisModule {
  /** Called as `redis:new()`. */
  new: (this: RestyRedisModule) => LuaMultiReturn<[RestyRedis] | [undefined, string]>;
}

/** @noResolution @noSelf */
declare module "cjson" {
  export function encode(value: unknown): string;
  export function decode(text: string): unknown;
  export function encode_empty_table_as_object(enabled: boolean): void;
}

/** ngx.semaphore (lua-resty-core): methods are called with `:`. Timeouts are in seconds. */
interface NgxSemaphore {
  post(this: NgxSemaphore, n?: number): void;
  /** true when posted; false and "timeout" when the wait ran out. */
  wait(this: NgxSemaphore, timeoutSeconds: number): LuaMultiReturn<[true] | [false, string]>;
  count(this: NgxSemaphore): number;
}

interface NgxSemaphoreModule {
  new: (this: void, n?: number) => LuaMultiReturn<[NgxSemaphore] | [undefined, string]>;
}

/** @noResolution */
declare module "ngx.semaphore" {
  const semaphore: NgxSemaphoreModule;
  export = semaphore;
}
