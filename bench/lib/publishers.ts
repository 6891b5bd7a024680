// How the benchmark publishes, one place for every way a setup takes messages:
//   - the Redis command a backend sends: plain PUBLISH, or the durable FCALL pushgate_publish with
//     the keys and arguments the SDK's publishDurable sends (redis/pushgate.lua states them);
//   - the publish workload's closed loop: C connections (keep-alive HTTP, or RESP), each with one
//     request in flight, sending the next as soon as the answer is in, until a count or a time bound
//     is reached; every round trip goes into a latency histogram. Equal concurrency for every
//     setup, as a pool of backend workers publishes; no pipelining, so a request's latency is its
//     own. Runs in a load-generator process (bench/loadgen.ts), not in the runner.

import { connect, Socket } from "node:net";
import { metaKey, streamKey } from "../../src/protocol/keys";
import { Histogram } from "./histogram";
import { ResponseHandler, ResponseParser } from "./http-response";
import { makePayload, nowMicros } from "./payload";
import { PublishCommand, PublishReply, PublishWay, Target } from "./protocol";
import { RedisError, RespClient } from "./resp";

/** The history caps a backend passes by default (PUSHGATE_HISTORY's defaults: 1000 entries, 1 day). */
const HISTORY_LENGTH = "1000";
const HISTORY_MS = "86400000";
const IDEMPOTENCY_MS = "86400000";

/**
 * The Redis command that publishes `payload` to `channel`: `PUBLISH`, or `FCALL pushgate_publish`
 * with the channel's stream and meta keys and no idempotency key, as sdk/redis.ts publishDurable
 * sends it on a standalone Redis.
 */
export function redisPublishArgs(command: "PUBLISH" | "FCALL", channel: string, payload: string): string[] {
  if (command === "PUBLISH") {
    return ["PUBLISH", channel, payload];
  }
  return ["FCALL", "pushgate_publish", "2", streamKey(channel), metaKey(channel), channel, payload, "", HISTORY_LENGTH, HISTORY_MS, IDEMPOTENCY_MS, "PUBLISH"];
}

/** Why a Redis reply to a publish is not a success, or undefined when it is one. */
export function redisRefusal(command: "PUBLISH" | "FCALL", reply: unknown): string | undefined {
  if (reply instanceof RedisError) {
    return `redis: ${reply.message}`;
  }
  if (command === "PUBLISH") {
    return typeof reply === "number" ? undefined : `redis: unexpected reply ${JSON.stringify(reply)}`;
  }
  // FCALL pushgate_publish answers { id, subscribers, duplicate }
  return Array.isArray(reply) && typeof reply[0] === "string" ? undefined : `redis: unexpected reply ${JSON.stringify(reply)}`;
}

/**
 * One keep-alive HTTP connection with one request in flight; resolves each request with its status
 * (0: no answer). nginx closes a connection after keepalive_requests (1000 by default), announcing it
 * with "Connection: close" on the last response: the next request then goes on a new connection,
 * as any HTTP client does (counted in `reconnects`), not on the closing one.
 */
class KeepAlive implements ResponseHandler {
  private socket: Socket | undefined;
  private parser: ResponseParser | undefined;
  private waiting: ((status: number) => void) | undefined;
  private status = 0;
  private closing = false;
  reconnects = 0;

  private constructor(private readonly target: Target) {}

  static async open(target: Target): Promise<KeepAlive> {
    const connection = new KeepAlive(target);
    await connection.connect();
    return connection;
  }

  onHead(status: number, headers: Record<string, string>): void {
    this.status = status;
    if ((headers.connection ?? "").toLowerCase() === "close") {
      this.closing = true;
    }
  }

  onBody(): void {}

  onEnd(): void {
    this.answer(this.status);
  }

  async post(path: string, body: string): Promise<number> {
    if (this.socket === undefined || this.closing) {
      this.socket?.destroy();
      this.reconnects++;
      try {
        await this.connect();
      } catch {
        return 0;
      }
    }
    const socket = this.socket!;
    return new Promise((done) => {
      this.waiting = done;
      socket.write(
        `POST ${path} HTTP/1.1\r\nHost: ${this.target.host}:${this.target.port}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
    });
  }

  close(): void {
    this.socket?.destroy();
  }

  private connect(): Promise<void> {
    return new Promise((done, fail) => {
      const socket = connect({ host: this.target.host, port: this.target.port });
      const parser = new ResponseParser(this);
      socket.setNoDelay(true);
      socket.once("connect", () => {
        this.socket = socket;
        this.parser = parser;
        this.closing = false;
        done();
      });
      socket.on("data", (data: Buffer) => {
        if (socket === this.socket) {
          parser.push(data);
        }
      });
      socket.on("error", (e) => fail(e));
      socket.on("close", () => {
        if (socket === this.socket) {
          this.socket = undefined;
          this.answer(0);
        }
      });
    });
  }

  private answer(status: number): void {
    const done = this.waiting;
    this.waiting = undefined;
    done?.(status);
  }
}

/** A publish attempt's outcome: undefined when accepted, else why not; `lost` when the connection is gone. */
type Attempt = (channel: string, payload: string) => Promise<{ refusal?: string; lost?: boolean }>;

async function openAttempts(way: PublishWay, connections: number): Promise<{ attempts: Attempt[]; close: () => void; reconnects: () => number }> {
  if (way.kind === "http") {
    const opened = await Promise.all(Array.from({ length: connections }, () => KeepAlive.open(way.target)));
    return {
      attempts: opened.map((connection) => async (channel, payload) => {
        const status = await connection.post(way.pathTemplate.replace("{channel}", channel), payload);
        if (status >= 200 && status < 300) {
          return {};
        }
        // An unanswered request: the next one opens a new connection; the failure is counted.
        return { refusal: status === 0 ? "no answer (connection closed)" : `status ${status}` };
      }),
      close: () => opened.forEach((connection) => connection.close()),
      reconnects: () => opened.reduce((sum, connection) => sum + connection.reconnects, 0),
    };
  }
  const clients = await Promise.all(Array.from({ length: connections }, () => RespClient.open(way.target.host, way.target.port)));
  return {
    attempts: clients.map((client) => async (channel, payload) => {
      const reply = await client.command(...redisPublishArgs(way.command, channel, payload));
      const refusal = redisRefusal(way.command, reply);
      return refusal === undefined ? {} : { refusal, lost: reply instanceof RedisError && reply.message.startsWith("connection closed") };
    }),
    close: () => clients.forEach((client) => client.close()),
    reconnects: () => 0,
  };
}

/**
 * The publish workload's closed loop: `connections` loops, each sending one publish at a time,
 * until `count` were sent or `seconds` have passed. Every message is stamped (epoch, seq, time),
 * so the subscribers measure its delivery too.
 */
export async function closedLoop(command: PublishCommand): Promise<PublishReply> {
  const { attempts, close, reconnects } = await openAttempts(command.way, command.connections);
  const latency = new Histogram();
  const failures: Record<string, number> = {};
  const startedMicros = nowMicros();
  const deadline = Date.now() + command.seconds * 1000;
  let next = 0;
  let completed = 0;
  let stoppedAtTimeBound = false;
  try {
    await Promise.all(
      attempts.map(async (attempt) => {
        for (;;) {
          if (next >= command.count) {
            return;
          }
          if (Date.now() >= deadline) {
            stoppedAtTimeBound = true;
            return;
          }
          const seq = next++;
          const sent = nowMicros();
          const outcome = await attempt(command.channel, makePayload(command.epoch, seq, command.payloadBytes));
          latency.record(nowMicros() - sent);
          if (outcome.refusal === undefined) {
            completed++;
          } else {
            failures[outcome.refusal] = (failures[outcome.refusal] ?? 0) + 1;
            if (outcome.lost === true) {
              return; // this connection is gone; the failure is counted, the others go on
            }
          }
        }
      }),
    );
  } finally {
    close();
  }
  return { sent: next, completed, failures, latency: latency.toData(), startedMicros, endedMicros: nowMicros(), stoppedAtTimeBound, reconnects: reconnects() };
}
