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

/** The whole answer: the mode, every worker's entry, and the counters summed over workers. */
export interface GatewayStatus {
  mode: string;
  workers: WorkerStatus[];
  totals: Record<string, number>;
}
