// Declarations for lua-resty-redis (Debian: `nginx.redis`, OpenResty: `resty.redis`) and lua-cjson.

/** A Redis reply as lua-resty-redis returns it: bulk strings, integers, nested arrays, ngx.null. */
type RedisReply = string | number | RedisReply[] | unknown;

/** resty.redis instance: every method is called with `:` and keeps `this`. */
interface RestyRedis {
  connect(
    this: RestyRedis,
    host: string,
    port?: number,
    options?: { pool?: string; pool_size?: number; backlog?: number },
  ): LuaMultiReturn<[1] | [undefined, string]>;
  set_timeout(this: RestyRedis, ms: number): void;
  set_timeouts(this: RestyRedis, connectMs: number, sendMs: number, readMs: number): void;
  set_keepalive(this: RestyRedis, maxIdleMs: number, poolSize: number): LuaMultiReturn<[1] | [undefined, string]>;
  get_reused_times(this: RestyRedis): LuaMultiReturn<[number] | [undefined, string]>;
  close(this: RestyRedis): LuaMultiReturn<[1] | [undefined, string]>;
  auth(this: RestyRedis, password: string): LuaMultiReturn<[string] | [undefined | false, string]>;
  select(this: RestyRedis, db: number): LuaMultiReturn<[string] | [undefined | false, string]>;
  ping(this: RestyRedis): LuaMultiReturn<[string] | [undefined | false, string]>;
  hmget(this: RestyRedis, key: string, ...fields: string[]): LuaMultiReturn<[unknown[]] | [undefined | false, string]>;
  publish(this: RestyRedis, channel: string, message: string): LuaMultiReturn<[number] | [undefined | false, string]>;
  subscribe(this: RestyRedis, ...channels: string[]): LuaMultiReturn<[RedisReply[]] | [undefined | false, string]>;
  unsubscribe(this: RestyRedis, ...channels: string[]): LuaMultiReturn<[RedisReply[]] | [undefined | false, string]>;
  /** Reads one reply pushed by Redis in subscribe mode; err "timeout" leaves the connection usable. */
  read_reply(this: RestyRedis): LuaMultiReturn<[RedisReply[]] | [undefined | false, string]>;
  /** Queues the commands that follow until commit_pipeline, which sends them in one write. */
  init_pipeline(this: RestyRedis, n?: number): void;
  /** The replies of the queued commands, in order; a command's error reply is { false, err }. */
  commit_pipeline(this: RestyRedis): LuaMultiReturn<[RedisReply[]] | [undefined, string]>;
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

/** lua-resty-websocket's server object (OpenResty: `resty.websocket.server`, Debian: `nginx.websocket.server`). */
interface RestyWebsocketServer {
  /** The raw request socket (ngx.req.socket(true)) once the handshake is done. */
  sock: NgxTcpSocket;
}

interface RestyWebsocketServerModule {
  /** Called as `server:new(opts)`: checks the upgrade request and answers 101. */
  new: (
    this: RestyWebsocketServerModule,
    opts?: { timeout?: number; max_payload_len?: number },
  ) => LuaMultiReturn<[RestyWebsocketServer] | [undefined, string]>;
}

/**
 * lua-resty-websocket's frame functions (`resty.websocket.protocol`), used on the server's socket
 * so received and sent frames can have different size limits.
 * @noSelf
 */
interface RestyWebsocketProtocol {
  /**
   * Reads one frame: (payload, "text" | "binary" | "continuation" | "close" | "ping" | "pong",
   * err) where err is "again" for a frame that is not the last of its message, and the close code
   * for "close"; or (nil, nil, message) on failure.
   */
  recv_frame(
    sock: NgxTcpSocket,
    maxPayloadLen: number,
    forceMasking: boolean,
  ): LuaMultiReturn<[string, string, string | number | undefined] | [undefined, undefined, string]>;
  /** The bytes of one frame (an unmasked server frame is the same for every client), or (nil, error). */
  build_frame(fin: boolean, opcode: number, payloadLen: number, payload: string, masking: boolean): LuaMultiReturn<[string] | [undefined, string]>;
  send_frame(
    sock: NgxTcpSocket,
    fin: boolean,
    opcode: number,
    payload: string,
    maxPayloadLen: number,
    masking: boolean,
  ): LuaMultiReturn<[number] | [undefined, string]>;
}
