// Hand-written declarations for the parts of lua-nginx-module's `ngx` API that Pushgate uses.
// Names stay as in the OpenResty docs so a name can be searched across TS, Lua and the docs.
// `ngx` is declared as a value (not a namespace) because `ngx.null` and `ngx.var` use words TS
// reserves. With tstl's noImplicitSelf, plain methods are called with `.`; methods whose first
// parameter is `this: X` are called with `:`.

type NgxPrintable = string | number | NgxPrintable[];

/** @noSelf */
interface NgxRequest {
  get_uri_args(max?: number): LuaMultiReturn<[LuaTable<string, string | boolean | Array<string | boolean>>, string | undefined]>;
  get_headers(max?: number, raw?: boolean): LuaMultiReturn<[LuaTable<string, string | string[]>, string | undefined]>;
  get_method(): string;
  read_body(): void;
  get_body_data(): string | undefined;
  get_body_file(): string | undefined;
}

/** @noSelf */
interface NgxWorker {
  exiting(): boolean;
  id(): number | undefined;
  pid(): number;
  count(): number;
}

interface NgxLightThread {
  readonly __lightThreadBrand: unique symbol;
}

/** @noSelf */
interface NgxThread {
  spawn<A extends unknown[]>(fn: (this: void, ...args: A) => unknown, ...args: A): NgxLightThread;
  wait(...threads: NgxLightThread[]): LuaMultiReturn<[boolean, ...unknown[]]>;
  kill(thread: NgxLightThread): LuaMultiReturn<[1] | [undefined, string]>;
}

/** @noSelf */
interface NgxTimer {
  every<A extends unknown[]>(
    delay: number,
    callback: (this: void, premature: boolean, ...args: A) => void,
    ...args: A
  ): LuaMultiReturn<[1] | [undefined, string]>;
  at<A extends unknown[]>(delay: number, callback: (this: void, premature: boolean, ...args: A) => void, ...args: A): LuaMultiReturn<[1] | [undefined, string]>;
}

/** A cosocket. */
interface NgxTcpSocket {
  connect(
    this: NgxTcpSocket,
    host: string,
    port?: number,
    options?: { pool?: string; pool_size?: number; backlog?: number },
  ): LuaMultiReturn<[1] | [undefined, string]>;
  bind(this: NgxTcpSocket, address: string): LuaMultiReturn<[1] | [undefined, string]>;
  settimeout(this: NgxTcpSocket, ms: number): void;
  settimeouts(this: NgxTcpSocket, connectMs: number, sendMs: number, readMs: number): void;
  send(this: NgxTcpSocket, data: NgxPrintable): LuaMultiReturn<[number] | [undefined, string]>;
  receive(this: NgxTcpSocket, pattern?: string | number): LuaMultiReturn<[string] | [undefined, string, string | undefined]>;
  close(this: NgxTcpSocket): LuaMultiReturn<[1] | [undefined, string]>;
  setkeepalive(this: NgxTcpSocket, timeoutMs?: number, size?: number): LuaMultiReturn<[1] | [undefined, string]>;
  getreusedtimes(this: NgxTcpSocket): LuaMultiReturn<[number] | [undefined, string]>;
}

/** @noSelf */
interface NgxSocket {
  tcp(): NgxTcpSocket;
}

/** A lua_shared_dict. */
interface NgxSharedDict {
  get(this: NgxSharedDict, key: string): LuaMultiReturn<[string | number | boolean | undefined, number | undefined]>;
  set(this: NgxSharedDict, key: string, value: string | number | boolean, exptime?: number): LuaMultiReturn<[boolean, string | undefined, boolean]>;
  incr(this: NgxSharedDict, key: string, value: number, init?: number, initTtl?: number): LuaMultiReturn<[number] | [undefined, string]>;
  delete(this: NgxSharedDict, key: string): void;
  /** Up to `max` keys (0: all); locks the dict while it walks it, so for rare reads only. */
  get_keys(this: NgxSharedDict, max?: number): string[];
}

/** What ngx.location.capture returns: the subrequest's status, headers and whole body. */
interface NgxCaptured {
  status: number;
  header: LuaTable<string, string | string[] | undefined>;
  body: string;
  /** True when the body was cut short (the upstream failed mid-way). */
  truncated: boolean;
}

/** @noSelf */
interface NgxLocation {
  /** An nginx subrequest to a location of this server (internal ones included), waited for. */
  capture(uri: string, options?: { method?: number; args?: string | LuaTable<string, string> | Record<string, string> }): NgxCaptured;
}

/** @noSelf */
interface Ngx {
  /** The light userdata that stands for a Redis nil or a JSON null. */
  readonly null: unknown;
  /** nginx variables: ngx.var.http_content_length and the like. */
  readonly var: LuaTable<string, string | undefined>;

  readonly ERR: number;
  readonly WARN: number;
  readonly NOTICE: number;
  readonly INFO: number;
  readonly DEBUG: number;

  status: number;
  /** True once the status and headers have gone out. */
  readonly headers_sent: boolean;
  readonly header: LuaTable<string, string | string[] | undefined>;
  readonly ctx: LuaTable<string, unknown>;
  readonly shared: LuaTable<string, NgxSharedDict | undefined>;
  readonly config: { prefix(this: void): string; ngx_lua_version: number };

  readonly req: NgxRequest;
  readonly worker: NgxWorker;
  readonly thread: NgxThread;
  readonly timer: NgxTimer;
  readonly socket: NgxSocket;
  readonly location: NgxLocation;
  readonly HTTP_GET: number;

  /** Writes strings, numbers or nested arrays of them to the response body. */
  print(...args: NgxPrintable[]): LuaMultiReturn<[1] | [undefined, string]>;
  say(...args: NgxPrintable[]): LuaMultiReturn<[1] | [undefined, string]>;
  /** wait = true blocks the light thread until the output is written to the socket. */
  flush(wait?: boolean): LuaMultiReturn<[1] | [undefined, string]>;
  send_headers(): LuaMultiReturn<[1] | [undefined, string]>;
  eof(): LuaMultiReturn<[1] | [undefined, string]>;
  exit(status: number): never;
  log(level: number, ...args: Array<string | number | boolean | undefined>): void;
  sleep(seconds: number): void;
  now(): number;
  update_time(): void;
  on_abort(callback: (this: void) => void): LuaMultiReturn<[1] | [undefined, string]>;
  get_phase(): string;
}

declare const ngx: Ngx;
