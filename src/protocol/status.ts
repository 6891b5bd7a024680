// The JSON of GET /status (src/status.ts), as the workers write it and clients read it. Types
// only: the hub fills HubStats in Lua, and the tests and tools read the whole under Node.

/** One worker's hub counters. */
export interface HubStats {
  connected: boolean;
  channels: number;
  subscribers: number;
  messages: number;
  reconnects: number;
  notices: number;
  dropped: number;
  overflows: number;
}

/** One worker's entry: its hub counters, who it is and its Lua heap. */
export interface WorkerStatus extends HubStats {
  worker: number;
  pid: number;
  /** The worker's Lua heap (KB), uncollected garbage included. */
  luaKb: number;
}

/** One recent problem (host/problems.ts): Redis failures, refused credentials, a hub that lost Redis. */
export interface Problem {
  /** Unix time (s) of its first occurrence before its worker flushed it. */
  at: number;
  level: "error" | "warn";
  message: string;
  /** How many times it happened before it was flushed (repeats are merged). */
  count: number;
  worker: number;
}

/** Redis as this request saw it: whether it answered a PING now, and the store's command times. */
export interface RedisState {
  ok: boolean;
  /** Why not, when it did not answer. */
  error?: string;
  /** Store operations timed since start, and their mean time (ms). */
  commands: number;
  meanMs: number;
}

/**
 * The whole answer: the mode, every worker's entry, and the counters summed over workers; then
 * what the metrics count (streams by transport, deliveries, publishes, presence), Redis and the
 * recent problems, newest first. `time` is the gateway's clock (s), for rates.
 */
export interface GatewayStatus {
  mode: string;
  workers: WorkerStatus[];
  totals: Record<string, number>;
  time: number;
  streams: Record<string, number>;
  delivered: number;
  published: number;
  presence: { connections: number; users: number };
  redis: RedisState;
  errors: Problem[];
}
