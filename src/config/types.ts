// The shapes of the settings: what the rest of Pushgate reads once the table (table.ts) and its
// checker (check.ts) have turned raw text into values.

export type Mode = "direct" | "shared";
export type LineFormat = "object" | "array";
export type OverflowPolicy = "disconnect" | "drop-oldest" | "catch-up";
export type RedisFsync = "everysec" | "always";

/** How much history a channel keeps: the last rule whose pattern matches the channel applies. */
export interface HistoryRule {
  /** A channel name, the start of one followed by `*`, or `*` alone. */
  pattern: string;
  /** Messages kept at most (the stream's MAXLEN). */
  length: number;
  /** Seconds a message is kept at most; 0: no age bound. */
  seconds: number;
}

export interface RedisAddress {
  host: string;
  port: number;
  db: number;
  password?: string;
  url: string;
  /** A seed node of a Redis Cluster (redis+cluster://): the store and hub route by slot. */
  cluster?: boolean;
  /** A sentinel (redis+sentinel://): the name of the primary it is asked for. */
  sentinel?: string;
}

export interface Settings {
  listen: string[];
  redisUrl: string;
  redis: RedisAddress[];
  workers: string;
  mode: Mode;
  heartbeatSeconds: number;
  maxChannels: number;
  maxMessageBytes: number;
  format: LineFormat;
  sourceAddresses: string[];
  workerConnections: number;
  workerRlimitNofile: number;
  redisTimeoutMs: number;
  retryAfterSeconds: number;
  logLevel: string;
  runtimeDir: string;
  /** A path prefix: each worker profiles its Lua (jit.p) into <prefix>.<pid>; "" off. */
  luaProfile: string;
  luaHeapMap: string;
  /** Where the launcher looks for a Redis, or starts one, when redisUrl is empty (host:port). */
  localRedis: string;
  /** appendfsync of the Redis the launcher starts. */
  redisFsync: RedisFsync;
  queueMessages: number;
  queueBytes: number;
  overflow: OverflowPolicy;
  /** Origins allowed to read responses from a browser (CORS): a list, ["*"], or empty for none. */
  corsOrigins: string[];
  corsCredentials: boolean;
  adminKey: string;
  /** Channel patterns with join and leave events. */
  presenceNotify: string[];
  presenceGraceSeconds: number;
  presenceRefreshSeconds: number;
  offlineGraceSeconds: number;
  unreadNotifySeconds: number;
  eventsMaxLength: number;
  longPollMaxSeconds: number;
  history: HistoryRule[];
  idempotencySeconds: number;
  /** Replicas that must have a published message before /pub answers (WAIT); 0: none. */
  publishReplicas: number;
  /** Grants are required when set: HS256 secret of subscriber and publisher tokens. */
  jwtSecret: string;
  jwtPreviousSecret: string;
  jwtLeewaySeconds: number;
  jwtMaxBytes: number;
  /** `kid=path` or `path` items: PEM public keys for RS256/ES256. */
  jwtPublicKeys: string[];
  jwksFile: string;
  jwtIssuer: string;
  jwtAudience: string;
  publisherKey: string;
  authCookie: string;
  /** Backend auth: the app's URL that grants connections; "" off. */
  authUrl: string;
  authCacheSeconds: number;
  authTimeoutMs: number;
  publishRatePerSecond: number;
  maxConnectionsPerUser: number;
  /** Connects per window (connectRateWindowSeconds) per user and per client address; 0: off. */
  connectRatePerUser: number;
  connectRatePerAddress: number;
  connectRateWindowSeconds: number;
  /** How long a revocation is kept in Redis (s). */
  revokeKeepSeconds: number;
}

/** One setting as text: its name in a config file, its environment variable, default and rule. */
export interface SettingRule {
  key: string;
  env: string;
  defaultValue: string;
  rule: string;
  doc: string;
}
