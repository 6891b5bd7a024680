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
import { PublishCommand, PublishReply, PublishWay } from "./protocol";
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

/** One keep-alive HTTP connection with one request in flight; resolves each request with its status (0: no answer). */
class KeepAlive implements ResponseHandler {
  private readonly parser = new ResponseParser(this);
  private waiting: ((status: number) => void) | undefined;
  private status = 0;
  closed = false;

  private constructor(
    private readonly socket: Socket,
    private readonly host: string,
  ) {
    socket.setNoDelay(true);
    socket.on("data", (data: Buffer) => this.parser.push(data));
    socket.on("error", () => undefined);
    socket.on("close", () => {
      this.closed = true;
      this.answer(0);
    });
  }

  static open(way: Extract<PublishWay, { kind: "http" }>): Promise<KeepAlive> {
    return new Promise((done, fail) => {
      const socket = connect({ host: way.target.host, port: way.target.port });
      socket.once("connect", () => done(new KeepAlive(socket, `${way.target.host}:${way.target.port}`)));
      socket.once("error", fail);
    });
  }

  onHead(status: number): void {
    this.status = status;
  }

  onBody(): void {}

  onEnd(): void {
    this.answer(this.status);
  }

  post(path: string, body: string): Promise<number> {
    if (this.closed) {
      return Promise.resolve(0);
    }
    return new Promise((done) => {
      this.waiting = done;
      this.socket.write(`POST ${path} HTTP/1.1\r\nHost: ${this.host}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private answer(status: number): void {
    const done = this.waiting;
    this.waiting = undefined;
    done?.(status);
  }
}

/** A publish attempt's outcome: undefined when accepted, else why not; `lost` when the connection is gone. */
type Attempt = (channel: string, payload: string) => Promise<{ refusal?: string; lost?: boolean }>;

async function openAttempts(way: PublishWay, connections: number): Promise<{ attempts: Attempt[]; close: () => void }> {
  if (way.kind === "http") {
    const opened = await Promise.all(Array.from({ length: connections }, () => KeepAlive.open(way)));
    return {
      attempts: opened.map((connection) => async (channel, payload) => {
        const status = await connection.post(way.pathTemplate.replace("{channel}", channel), payload);
        if (status >= 200 && status < 300) {
          return {};
        }
        return { refusal: status === 0 ? "no answer (connection closed)" : `status ${status}`, lost: connection.closed };
      }),
      close: () => opened.forEach((connection) => connection.close()),
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
  };
}

/**
 * The publish workload's closed loop: `connections` loops, each sending one publish at a time,
 * until `count` were sent or `seconds` have passed. Every message is stamped (epoch, seq, time),
 * so the subscribers measure its delivery too.
 */
export async function closedLoop(command: PublishCommand): Promise<PublishReply> {
  const { attempts, close } = await openAttempts(command.way, command.connections);
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
  return { sent: next, completed, failures, latency: latency.toData(), startedMicros, endedMicros: nowMicros(), stoppedAtTimeBound };
}
