// The one table of settings: each row names a setting (config-file key, environment variable),
// its default, its kind and bounds, and what it does. check.ts reads these rows to check values
// and to word the rule of each (in error messages and in README's generated table).

/** How a setting's text is read; the bounds that apply are the fields of Setting named for it. */
export type Kind = "integer" | "number" | "choice" | "boolean" | "secret" | "name" | "path" | "address" | "list" | "text" | "url";

/** What each item of a `list` setting is. */
export type ItemKind = "listen" | "ipv4" | "origin" | "redis" | "history" | "pattern" | "keyfile";

export interface Setting {
  /** Name in a config file and in the Settings object. */
  key: string;
  /** Environment variable. */
  env: string;
  /** Text taken when neither the environment nor the config file gives the setting. */
  default: string;
  kind: Kind;
  /** What the setting does (README's table). */
  doc: string;
  /** integer, number: smallest and largest value; name, text: longest; secret: shortest (bytes). */
  min?: number;
  max?: number;
  /** integer: a word also accepted instead of a number; the value then stays text. */
  or?: string;
  /** integer: what 0 means. */
  zero?: string;
  /** integer: at most the value of this other (integer) setting. */
  atMost?: string;
  /** choice: the accepted values. */
  values?: string[];
  /** secret: what the value is called in an error ("the secret is shorter than 32 bytes"). */
  noun?: string;
  /** secret: accepted only with this other setting set, and different from it. */
  with?: string;
  /** list: what each item is. */
  item?: ItemKind;
  /** list: may be empty (otherwise at least one item). */
  empty?: boolean;
  /** list: `*` alone is accepted too. */
  star?: boolean;
  /** list: the parsed items go to this Settings field; the key keeps the text. */
  into?: string;
}

/** Environment variables the launcher reads that are not settings. */
export const OTHER_VARIABLES: Array<{ env: string; doc: string }> = [
  { env: "PUSHGATE_CONFIG", doc: "a JSON file whose keys are the settings' file keys; the environment wins over it" },
  { env: "PUSHGATE_NGINX", doc: "the nginx binary to run; by default `openresty` or `nginx` from the PATH, or /usr/sbin/nginx" },
];

/** Prefixes of environment variables that are not settings: the benchmark's own. */
export const OTHER_PREFIXES: string[] = ["PUSHGATE_BENCH_"];

export const TABLE: Setting[] = [
  { key: "listen", env: "PUSHGATE_LISTEN", default: "127.0.0.1:8080", kind: "list", item: "listen", doc: "where nginx listens" },
  {
    key: "redisUrl",
    env: "PUSHGATE_REDIS_URL",
    default: "",
    kind: "list",
    item: "redis",
    empty: true,
    into: "redis",
    doc:
      "the Redis to use. Empty: the launcher uses the Redis that answers at `localRedis`, or starts one there. Several addresses must reach the same " +
      "pub/sub (one Redis on several addresses, or a primary and its replicas, which receive every `PUBLISH`); `/pub` publishes to the first. " +
      "`redis+cluster://[:password@]host:port,host:port`: a Redis Cluster, by its seed nodes (shared mode)",
  },
  {
    key: "localRedis",
    env: "PUSHGATE_LOCAL_REDIS",
    default: "127.0.0.1:6379",
    kind: "address",
    doc: "with `redisUrl` empty: where the launcher looks for a Redis, and starts one (data in `<runtimeDir>/redis`, append-only file on) if none answers",
  },
  {
    key: "redisFsync",
    env: "PUSHGATE_REDIS_FSYNC",
    default: "everysec",
    kind: "choice",
    values: ["everysec", "always"],
    doc: "`appendfsync` of the Redis the launcher starts: `everysec` may lose the last second of messages if the machine crashes, `always` none (slower)",
  },
  { key: "workers", env: "PUSHGATE_WORKERS", default: "auto", kind: "integer", or: "auto", min: 1, max: 64, doc: "nginx worker processes" },
  {
    key: "mode",
    env: "PUSHGATE_MODE",
    default: "shared",
    kind: "choice",
    values: ["direct", "shared"],
    doc: "`shared`: one Redis connection per nginx worker, fan-out in the worker; `direct`: one Redis connection per stream",
  },
  {
    key: "queueMessages",
    env: "PUSHGATE_QUEUE_MESSAGES",
    default: "1000",
    kind: "integer",
    min: 1,
    max: 1000000,
    doc: "shared mode: messages waiting for one slow client before the overflow policy applies",
  },
  {
    key: "queueBytes",
    env: "PUSHGATE_QUEUE_BYTES",
    default: "8388608",
    kind: "integer",
    min: 1024,
    max: 1073741824,
    doc: "shared mode: bytes of messages waiting for one slow client before the overflow policy applies",
  },
  {
    key: "overflow",
    env: "PUSHGATE_OVERFLOW",
    default: "disconnect",
    kind: "choice",
    values: ["disconnect", "drop-oldest", "catch-up"],
    doc: "what a full queue does: end the stream with `client too slow`; drop the oldest messages and send a `dropped` notice; or drop the queue and let the stream catch up from history at its own pace (`catch-up`: nothing durable lost while history reaches back)",
  },
  {
    key: "history",
    env: "PUSHGATE_HISTORY",
    default: "*=1000/86400",
    kind: "list",
    item: "history",
    doc: "how many messages, and for how long, each channel keeps for resume and inboxes",
  },
  {
    key: "idempotencySeconds",
    env: "PUSHGATE_IDEMPOTENCY_SECONDS",
    default: "86400",
    kind: "integer",
    min: 1,
    max: 31536000,
    doc: "how long a publish's `Idempotency-Key` is remembered (a retry within it is stored once)",
  },
  {
    key: "publishReplicas",
    env: "PUSHGATE_PUBLISH_REPLICAS",
    default: "0",
    kind: "integer",
    min: 0,
    max: 5,
    zero: "answer once the primary has the message",
    doc:
      "`/pub` answers only once this many replicas have the message (Redis `WAIT`, within `redisTimeoutMs`), else `503`: a retry with the same `Idempotency-Key` is stored once. " +
      "With 0, a message acknowledged by a primary that dies before its replica has it is lost",
  },
  {
    key: "heartbeatSeconds",
    env: "PUSHGATE_HEARTBEAT_SECONDS",
    default: "25",
    kind: "number",
    min: 0.05,
    max: 300,
    doc: "an idle stream gets a keep-alive this often",
  },
  { key: "maxChannels", env: "PUSHGATE_MAX_CHANNELS", default: "16", kind: "integer", min: 1, max: 1024, doc: "channels one connection may subscribe to" },
  {
    key: "maxMessageBytes",
    env: "PUSHGATE_MAX_MESSAGE_BYTES",
    default: "1048576",
    kind: "integer",
    min: 1,
    max: 67108864,
    doc: "largest message `/pub` accepts (larger: 413)",
  },
  {
    key: "format",
    env: "PUSHGATE_FORMAT",
    default: "object",
    kind: "choice",
    values: ["object", "array"],
    doc: "default line shape of `/sub` (a request may pick with `?format=`)",
  },
  {
    key: "sourceAddresses",
    env: "PUSHGATE_SOURCE_ADDRESSES",
    default: "",
    kind: "list",
    item: "ipv4",
    empty: true,
    doc: "local addresses direct-mode Redis connections leave from, in turn (past ~60k connections per address)",
  },
  {
    key: "workerConnections",
    env: "PUSHGATE_WORKER_CONNECTIONS",
    default: "16384",
    kind: "integer",
    min: 64,
    max: 1048576,
    atMost: "workerRlimitNofile",
    doc: "nginx `worker_connections`: client and Redis sockets per worker",
  },
  {
    key: "workerRlimitNofile",
    env: "PUSHGATE_WORKER_RLIMIT_NOFILE",
    default: "20000",
    kind: "integer",
    min: 64,
    max: 1048576,
    doc: "nginx `worker_rlimit_nofile`: open files per worker",
  },
  {
    key: "redisTimeoutMs",
    env: "PUSHGATE_REDIS_TIMEOUT_MS",
    default: "2000",
    kind: "integer",
    min: 10,
    max: 60000,
    doc: "connect and command timeout towards Redis",
  },
  {
    key: "retryAfterSeconds",
    env: "PUSHGATE_RETRY_AFTER_SECONDS",
    default: "2",
    kind: "integer",
    min: 1,
    max: 3600,
    doc: "`Retry-After` sent with a 503 when Redis is unreachable",
  },
  {
    key: "logLevel",
    env: "PUSHGATE_LOG_LEVEL",
    default: "warn",
    kind: "choice",
    values: ["debug", "info", "notice", "warn", "error", "crit"],
    doc: "nginx `error_log` level",
  },
  {
    key: "jwtSecret",
    env: "PUSHGATE_JWT_SECRET",
    default: "",
    kind: "secret",
    min: 32,
    noun: "secret",
    doc: "set: every stream needs a token (HS256 JWT) granting its channels, and `/pub` a publisher credential; empty: no auth (a loud warning at start)",
  },
  {
    key: "jwtPreviousSecret",
    env: "PUSHGATE_JWT_PREVIOUS_SECRET",
    default: "",
    kind: "secret",
    min: 32,
    noun: "secret",
    with: "jwtSecret",
    doc: "also accepted while tokens signed with it may remain (secret rotation)",
  },
  {
    key: "jwtLeewaySeconds",
    env: "PUSHGATE_JWT_LEEWAY_SECONDS",
    default: "30",
    kind: "integer",
    min: 0,
    max: 300,
    doc: "clock skew allowed on `exp` and `nbf`",
  },
  { key: "jwtMaxBytes", env: "PUSHGATE_JWT_MAX_BYTES", default: "8192", kind: "integer", min: 512, max: 8192, doc: "longest token accepted" },
  {
    key: "jwtPublicKeys",
    env: "PUSHGATE_JWT_PUBLIC_KEYS",
    default: "",
    kind: "list",
    item: "keyfile",
    empty: true,
    doc: "PEM public keys (RSA of 2048 bits or more: RS256; P-256: ES256) that tokens may be signed with, chosen by the token's `kid`: `kid=path`, or `path` whose base name without extension is the kid. Set (or jwksFile): tokens are required, as with jwtSecret",
  },
  {
    key: "jwksFile",
    env: "PUSHGATE_JWKS_FILE",
    default: "",
    kind: "text",
    max: 4096,
    doc: 'a JWKS file (`{"keys":[…]}`, as identity providers publish) whose RSA and P-256 signing keys verify RS256 and ES256 tokens by `kid`; other keys in it are skipped',
  },
  {
    key: "jwtIssuer",
    env: "PUSHGATE_JWT_ISSUER",
    default: "",
    kind: "text",
    max: 1024,
    doc: "set: a token's `iss` must be exactly this",
  },
  {
    key: "jwtAudience",
    env: "PUSHGATE_JWT_AUDIENCE",
    default: "",
    kind: "text",
    max: 1024,
    doc: "set: a token's `aud` must be this, or a list holding it",
  },
  {
    key: "publisherKey",
    env: "PUSHGATE_PUBLISHER_KEY",
    default: "",
    kind: "secret",
    min: 32,
    noun: "key",
    doc: "a key backends send as `Authorization: Bearer <key>` to `POST /pub` (besides tokens with a publish claim)",
  },
  {
    key: "adminKey",
    env: "PUSHGATE_ADMIN_KEY",
    default: "",
    kind: "secret",
    min: 32,
    noun: "key",
    doc: "a key for the server API (`POST /api`, `Authorization: Bearer <key>`) besides the publisher key",
  },
  { key: "authCookie", env: "PUSHGATE_AUTH_COOKIE", default: "pushgate_token", kind: "name", max: 64, doc: "cookie that may carry the token" },
  {
    key: "authUrl",
    env: "PUSHGATE_AUTH_URL",
    default: "",
    kind: "url",
    doc: "set: a connection without a token is granted by the app's answer to a GET to this URL carrying the request's cookies, `Authorization` and `?channels=` (backend auth)",
  },
  {
    key: "authCacheSeconds",
    env: "PUSHGATE_AUTH_CACHE_SECONDS",
    default: "5",
    kind: "integer",
    min: 0,
    max: 3600,
    zero: "no cache",
    doc: "how long the app's answer to backend auth is reused for the same credentials and channels",
  },
  {
    key: "authTimeoutMs",
    env: "PUSHGATE_AUTH_TIMEOUT_MS",
    default: "3000",
    kind: "integer",
    min: 100,
    max: 60000,
    doc: "connect and read timeout of backend auth requests (past it: 503)",
  },
  {
    key: "publishRatePerSecond",
    env: "PUSHGATE_PUBLISH_RATE",
    default: "1000",
    kind: "integer",
    min: 0,
    max: 1000000,
    zero: "no limit",
    doc: "publishes per second per credential (token subject, publisher key, or client address without auth); more: 429",
  },
  {
    key: "maxConnectionsPerUser",
    env: "PUSHGATE_MAX_CONNECTIONS_PER_USER",
    default: "0",
    kind: "integer",
    min: 0,
    max: 1000000,
    zero: "no limit",
    doc: "concurrent streams one user (token subject) may hold; more: 429",
  },
  {
    key: "connectRatePerUser",
    env: "PUSHGATE_CONNECT_RATE_PER_USER",
    default: "0",
    kind: "integer",
    min: 0,
    max: 1000000,
    zero: "no limit",
    doc: "connects one user may make per PUSHGATE_CONNECT_RATE_WINDOW_SECONDS, counted on all gateways (Redis); more: 429 with Retry-After",
  },
  {
    key: "connectRatePerAddress",
    env: "PUSHGATE_CONNECT_RATE_PER_ADDRESS",
    default: "0",
    kind: "integer",
    min: 0,
    max: 1000000,
    zero: "no limit",
    doc: "connects one client address may make per PUSHGATE_CONNECT_RATE_WINDOW_SECONDS, counted on all gateways (Redis); more: 429 with Retry-After",
  },
  {
    key: "connectRateWindowSeconds",
    env: "PUSHGATE_CONNECT_RATE_WINDOW_SECONDS",
    default: "1",
    kind: "integer",
    min: 1,
    max: 3600,
    doc: "the window of the connect-rate limits",
  },
  {
    key: "revokeKeepSeconds",
    env: "PUSHGATE_REVOKE_KEEP_SECONDS",
    default: "86400",
    kind: "integer",
    min: 60,
    max: 31536000,
    doc: "a revocation (API revoke) is kept this long: set it to the longest lifetime of the tokens you issue",
  },
  {
    key: "presenceNotify",
    env: "PUSHGATE_PRESENCE",
    default: "",
    kind: "list",
    item: "pattern",
    empty: true,
    doc: "channels whose subscribers receive `join` and `leave` events with the user id (e.g. `room:*,user:*`); empty: none",
  },
  {
    key: "presenceGraceSeconds",
    env: "PUSHGATE_PRESENCE_GRACE_SECONDS",
    default: "5",
    kind: "number",
    min: 0,
    max: 600,
    doc: "a user whose last connection to a channel ended and who is back within this is neither a leave nor a join",
  },
  {
    key: "presenceRefreshSeconds",
    env: "PUSHGATE_PRESENCE_REFRESH_SECONDS",
    default: "10",
    kind: "number",
    min: 0.5,
    max: 300,
    doc: "gateways refresh their presence entries this often; entries live 2.5 times as long, so a gateway that dies drops out within about two intervals",
  },
  {
    key: "offlineGraceSeconds",
    env: "PUSHGATE_OFFLINE_GRACE_SECONDS",
    default: "30",
    kind: "number",
    min: 0,
    max: 86400,
    doc: "a user whose last connection on any gateway ended and who is not back within this gets an `offline` event in `pushgate:events`; 0: no offline events",
  },
  {
    key: "unreadNotifySeconds",
    env: "PUSHGATE_UNREAD_NOTIFY_SECONDS",
    default: "0",
    kind: "number",
    min: 0,
    max: 604800,
    doc: "a message in a user's inbox (`user:<id>`) still unread this long after it was published gets an `unread` event in `pushgate:events`; 0: no unread events",
  },
  {
    key: "eventsMaxLength",
    env: "PUSHGATE_EVENTS_MAX_LENGTH",
    default: "100000",
    kind: "integer",
    min: 1,
    max: 100000000,
    doc: "`pushgate:events` keeps about this many of the newest events (XADD MAXLEN ~)",
  },
  {
    key: "corsOrigins",
    env: "PUSHGATE_CORS_ORIGINS",
    default: "",
    kind: "list",
    item: "origin",
    empty: true,
    star: true,
    doc: "browser origins allowed to read `/sub`, `/sse`, `/lp` and `/pub` answers and to open `/ws` (CORS); empty: no CORS headers, `/ws` open to any origin",
  },
  {
    key: "corsCredentials",
    env: "PUSHGATE_CORS_CREDENTIALS",
    default: "false",
    kind: "boolean",
    doc: "`true`: allowed origins may send cookies and HTTP authentication (`Access-Control-Allow-Credentials`)",
  },
  {
    key: "longPollMaxSeconds",
    env: "PUSHGATE_LONG_POLL_MAX_SECONDS",
    default: "120",
    kind: "integer",
    min: 1,
    max: 3600,
    doc: "longest a long-poll waits (a larger `?timeout=` is capped), and its default",
  },
  {
    key: "runtimeDir",
    env: "PUSHGATE_RUNTIME_DIR",
    default: "run",
    kind: "path",
    doc: "where the launcher writes nginx.conf, logs, pid files and the data of the Redis it starts (relative: to the checkout)",
  },
];
