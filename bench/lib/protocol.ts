// Messages between the runner and its load-generator processes (child_process.fork IPC).
// The runner sends {id, command}; the process answers {id, reply} or {id, error}.

import type { HistogramData } from "./histogram";

export interface Target {
  host: string;
  port: number;
}

/** Opens `count` more streams. Stream k (k = first, first+1, …) subscribes to channelOf(k). */
export interface OpenCommand {
  kind: "open";
  count: number;
  first: number;
  targets: Target[];
  /** Local addresses to connect from, used in turn (each gives ~28k ports). */
  sources: string[];
  /** Request path with "{channel}" where the channel goes, e.g. "/sub?key={channel}". */
  pathTemplate: string;
  channelPrefix: string;
  /** Streams per channel: channel = prefix + floor(k / perChannel); 0 puts every stream on prefix + "0". */
  perChannel: number;
  /** Extra request header lines ("TE: chunked"). */
  headers: string[];
  /** Connection attempts in flight at once. */
  concurrency: number;
  /** Attempts after the first one for a stream that fails (0: record the failure). */
  retries: number;
  retryDelayMs: number;
  /** The whole command gives up after this long; streams still pending count as "timeout". */
  timeoutMs: number;
}

export interface OpenReply {
  requested: number;
  subscribed: number;
  /** Why streams failed, with counts ("status 503", "ECONNRESET", "timeout", …). */
  failures: Record<string, number>;
  /** Extra attempts made (retries). */
  retried: number;
  alive: number;
  startedMicros: number;
  lastSubscribedMicros: number;
  /** Time from the start of the command to each stream's 200 status line. */
  subscribeTimes: HistogramData;
}

/** Counts deliveries of messages stamped with `epoch` from now on (earlier counts are cleared). */
export interface WatchCommand {
  kind: "watch";
  epoch: number;
}

/** Waits until alive streams × perStream messages of the watched epoch arrived, or the timeout. */
export interface WaitCommand {
  kind: "wait";
  perStream: number;
  timeoutMs: number;
}

export interface WaitReply {
  expected: number;
  deliveries: number;
  /** Deliveries stamped with another epoch (late messages of an earlier round). */
  stale: number;
  firstDeliveryMicros: number;
  lastDeliveryMicros: number;
  latency: HistogramData;
  alive: number;
}

/** Drops every alive stream at once and reconnects them all at once (retrying failures). */
export interface StormCommand {
  kind: "storm";
  /** Fresh local addresses for the new connections (the dropped ones leave ports in TIME_WAIT). */
  sources: string[];
  retries: number;
  retryDelayMs: number;
  timeoutMs: number;
}

export interface StormReply extends OpenReply {
  dropped: number;
}

export interface StatusCommand {
  kind: "status";
}

export interface StatusReply {
  alive: number;
  sockets: number;
  /** Streams that ended after their 200, by reason. */
  ended: Record<string, number>;
  rssBytes: number;
}

export interface CloseCommand {
  kind: "close";
}

export interface CloseReply {
  closed: number;
}

/** How a publisher reaches a server: HTTP POST to a path with "{channel}", or a Redis command. */
export type PublishWay = { kind: "http"; target: Target; pathTemplate: string } | { kind: "redis"; target: Target; command: "PUBLISH" | "FCALL" };

/**
 * The publish workload's closed loop (bench/lib/publishers.ts): `connections` connections, each
 * with one publish in flight, `count` publishes to `channel` stamped with `epoch`, or fewer when
 * `seconds` run out first.
 */
export interface PublishCommand {
  kind: "publish";
  way: PublishWay;
  channel: string;
  connections: number;
  count: number;
  epoch: number;
  payloadBytes: number;
  seconds: number;
}

export interface PublishReply {
  sent: number;
  /** Publishes the server accepted (2xx, or a Redis reply that is not an error). */
  completed: number;
  /** Refused or unanswered publishes by reason ("status 429", "redis: …"). */
  failures: Record<string, number>;
  /** Round trip of every publish, µs. */
  latency: HistogramData;
  startedMicros: number;
  endedMicros: number;
  /** The time bound ended the loop before `count` publishes were sent. */
  stoppedAtTimeBound: boolean;
  /** New HTTP connections opened after the server closed one (keepalive_requests). */
  reconnects: number;
}

export type Command = OpenCommand | WatchCommand | WaitCommand | StormCommand | StatusCommand | CloseCommand | PublishCommand;

export interface Request {
  id: number;
  command: Command;
}

export interface Response {
  id: number;
  reply?: unknown;
  error?: string;
}

/** Sockets one load-generator process may hold: below the 20,000 open files a process gets here. */
export const MAX_SOCKETS_PER_PROCESS = 17500;
