// Load-generator process: holds up to MAX_SOCKETS_PER_PROCESS streaming subscribers on raw `net`
// sockets (a hand-written HTTP/1.1 GET and chunked parser, no per-message allocation beyond the
// chunk itself), measures publish→deliver latency from the time stamped in each message, and
// answers the runner's commands over IPC. A process may instead run the publish workload's closed
// loop of publishers (bench/lib/publishers.ts). Forked by bench/lib/fleet.ts; exits with the runner.

import { connect, Socket } from "node:net";
import { Histogram } from "./lib/histogram";
import { ResponseHandler, ResponseParser } from "./lib/http-response";
import { MarkSink, nowMicros, scanMarks } from "./lib/payload";
import { closedLoop } from "./lib/publishers";
import {
  CloseReply,
  Command,
  MAX_SOCKETS_PER_PROCESS,
  OpenCommand,
  OpenReply,
  Request,
  StatusReply,
  StormCommand,
  StormReply,
  Target,
  WaitCommand,
  WaitReply,
} from "./lib/protocol";

/** The read buffer of every socket (onread): what a read delivers is parsed before the next read. */
const READ_BUFFER = Buffer.alloc(256 * 1024);

function count(table: Record<string, number>, key: string, n = 1): void {
  table[key] = (table[key] ?? 0) + n;
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

/** One open or storm command: the streams it is connecting, and how they fared. */
class Batch {
  readonly startedMicros = nowMicros();
  readonly pending = new Set<Subscriber>();
  readonly queue: Subscriber[] = [];
  readonly failures: Record<string, number> = {};
  readonly subscribeTimes = new Histogram();
  subscribed = 0;
  retried = 0;
  lastSubscribedMicros = 0;
  private inFlight = 0;
  private finished: () => void = () => undefined;
  readonly done: Promise<void>;

  constructor(
    private readonly generator: LoadGenerator,
    readonly retries: number,
    readonly retryDelayMs: number,
    private readonly concurrency: number,
    timeoutMs: number,
  ) {
    this.done = new Promise((resolve) => (this.finished = resolve));
    const timer = setTimeout(() => this.expire(), timeoutMs);
    void this.done.then(() => clearTimeout(timer));
  }

  add(stream: Subscriber): void {
    this.pending.add(stream);
    this.queue.push(stream);
  }

  /** Starts connecting, `concurrency` streams at a time. */
  start(): void {
    this.launch();
    this.checkDone();
  }

  succeeded(stream: Subscriber): void {
    if (!this.pending.delete(stream)) {
      return;
    }
    this.subscribed++;
    this.lastSubscribedMicros = this.generator.receivedMicros;
    this.subscribeTimes.record(this.generator.receivedMicros - this.startedMicros);
    this.settle();
  }

  /** A failed attempt: retried after a pause while attempts remain, else recorded. */
  failed(stream: Subscriber, reason: string): void {
    if (!this.pending.has(stream)) {
      return;
    }
    if (stream.attempts <= this.retries) {
      this.retried++;
      setTimeout(() => {
        if (this.pending.has(stream)) {
          stream.connect(this);
        }
      }, this.retryDelayMs);
      return;
    }
    this.pending.delete(stream);
    count(this.failures, reason);
    this.settle();
  }

  private settle(): void {
    this.inFlight--;
    this.launch();
    this.checkDone();
  }

  private launch(): void {
    while (this.inFlight < this.concurrency && this.queue.length > 0) {
      const stream = this.queue.shift()!;
      this.inFlight++;
      stream.attempts = 0;
      stream.connect(this);
    }
  }

  private checkDone(): void {
    if (this.pending.size === 0) {
      this.finished();
    }
  }

  private expire(): void {
    for (const stream of this.pending) {
      stream.drop();
      count(this.failures, "timeout");
    }
    this.pending.clear();
    this.queue.length = 0;
    this.finished();
  }

  reply(): OpenReply {
    return {
      requested: 0,
      subscribed: this.subscribed,
      failures: this.failures,
      retried: this.retried,
      alive: this.generator.alive,
      startedMicros: this.startedMicros,
      lastSubscribedMicros: this.lastSubscribedMicros,
      subscribeTimes: this.subscribeTimes.toData(),
    };
  }
}

/** One streaming subscriber; reconnects reuse the object (and its request bytes). */
class Subscriber implements ResponseHandler {
  socket: Socket | undefined;
  subscribed = false;
  attempts = 0;
  private parser: ResponseParser | undefined;
  private batch: Batch | undefined;
  private carry: Buffer | undefined;
  private lastError: string | undefined;

  constructor(
    private readonly generator: LoadGenerator,
    private readonly request: string,
    private readonly target: Target,
  ) {}

  connect(batch: Batch): void {
    this.batch = batch;
    this.attempts++;
    this.subscribed = false;
    this.carry = undefined;
    this.lastError = undefined;
    this.parser = new ResponseParser(this);
    // onread: reads land in one buffer shared by every socket of the process and go straight to
    // the parser, without a Buffer and a stream 'data' event per read.
    const socket: Socket = connect({
      host: this.target.host,
      port: this.target.port,
      localAddress: this.generator.nextSource(),
      onread: {
        buffer: READ_BUFFER,
        callback: (length: number, buffer: Uint8Array): boolean => {
          this.onData(socket, Buffer.from(buffer.buffer, buffer.byteOffset, length));
          return true;
        },
      },
    });
    this.socket = socket;
    this.generator.sockets++;
    socket.setNoDelay(true);
    socket.write(this.request, "latin1");
    socket.on("error", (e: NodeJS.ErrnoException) => {
      if (socket === this.socket) {
        this.lastError = e.code ?? e.message;
      }
    });
    socket.on("close", () => {
      this.generator.sockets--;
      this.onClose(socket);
    });
  }

  /** Closes the connection on our side without counting it as a failure or an end. */
  drop(): void {
    const socket = this.socket;
    if (socket === undefined) {
      return;
    }
    this.socket = undefined;
    if (this.subscribed) {
      this.subscribed = false;
      this.generator.alive--;
    }
    socket.destroy();
  }

  onHead(status: number): void {
    if (status === 200) {
      this.subscribed = true;
      this.generator.alive++;
      this.batch?.succeeded(this);
    } else {
      this.fail(`status ${status}`);
    }
  }

  onBody(data: Buffer): void {
    if (!this.subscribed) {
      return;
    }
    const carry = this.carry;
    this.carry = scanMarks(carry === undefined ? data : Buffer.concat([carry, data]), this.generator);
  }

  onEnd(): void {
    if (this.subscribed) {
      this.end("ended by server");
    }
  }

  private onData(socket: Socket, data: Buffer): void {
    if (socket !== this.socket || this.parser === undefined) {
      return;
    }
    this.generator.receivedMicros = nowMicros();
    try {
      this.parser.push(data);
    } catch (e) {
      this.fail(`bad response: ${(e as Error).message}`);
    }
  }

  private onClose(socket: Socket): void {
    if (socket !== this.socket) {
      return; // dropped on purpose, or replaced by a newer connection
    }
    this.parser?.closed();
    if (this.socket === undefined) {
      return;
    }
    if (this.subscribed) {
      this.end(this.lastError ?? "closed by server");
    } else {
      this.fail(this.lastError ?? "closed before the status line");
    }
  }

  private end(reason: string): void {
    this.drop();
    count(this.generator.ended, reason);
  }

  private fail(reason: string): void {
    const socket = this.socket;
    this.socket = undefined;
    this.subscribed = false;
    socket?.destroy();
    this.batch?.failed(this, reason);
  }
}

class LoadGenerator implements MarkSink {
  readonly streams: Subscriber[] = [];
  readonly ended: Record<string, number> = {};
  alive = 0;
  sockets = 0;
  /** Time of the socket read being parsed: one clock read per read, not per message. */
  receivedMicros = 0;
  private sources: string[] = ["127.0.0.1"];
  private sourceTurn = 0;
  private epoch = -1;
  private deliveries = 0;
  private stale = 0;
  private firstDeliveryMicros = 0;
  private lastDeliveryMicros = 0;
  private latency = new Histogram();

  nextSource(): string {
    this.sourceTurn = (this.sourceTurn + 1) % this.sources.length;
    return this.sources[this.sourceTurn];
  }

  onMark(epoch: number, _seq: number, publishedMicros: number): void {
    if (epoch !== this.epoch) {
      this.stale++;
      return;
    }
    this.deliveries++;
    if (this.firstDeliveryMicros === 0) {
      this.firstDeliveryMicros = this.receivedMicros;
    }
    this.lastDeliveryMicros = this.receivedMicros;
    this.latency.record(this.receivedMicros - publishedMicros);
  }

  async open(command: OpenCommand): Promise<OpenReply> {
    if (this.sockets + command.count > MAX_SOCKETS_PER_PROCESS) {
      throw new Error(`refusing to hold ${this.sockets + command.count} sockets in one process (limit ${MAX_SOCKETS_PER_PROCESS})`);
    }
    this.sources = command.sources;
    const batch = new Batch(this, command.retries, command.retryDelayMs, command.concurrency, command.timeoutMs);
    const extra = command.headers.map((line) => `${line}\r\n`).join("");
    for (let k = command.first; k < command.first + command.count; k++) {
      const target = command.targets[k % command.targets.length];
      const channel = command.channelPrefix + (command.perChannel > 0 ? Math.floor(k / command.perChannel) : 0);
      const path = command.pathTemplate.replace("{channel}", channel);
      const request = `GET ${path} HTTP/1.1\r\nHost: ${target.host}:${target.port}\r\nUser-Agent: pushgate-bench\r\n${extra}\r\n`;
      const stream = new Subscriber(this, request, target);
      this.streams.push(stream);
      batch.add(stream);
    }
    batch.start();
    await batch.done;
    return { ...batch.reply(), requested: command.count };
  }

  watch(epoch: number): void {
    this.epoch = epoch;
    this.deliveries = 0;
    this.stale = 0;
    this.firstDeliveryMicros = 0;
    this.lastDeliveryMicros = 0;
    this.latency = new Histogram();
  }

  async wait(command: WaitCommand): Promise<WaitReply> {
    const expected = this.alive * command.perStream;
    const deadline = Date.now() + command.timeoutMs;
    while (this.deliveries < expected && Date.now() < deadline) {
      await sleep(10);
    }
    return {
      expected,
      deliveries: this.deliveries,
      stale: this.stale,
      firstDeliveryMicros: this.firstDeliveryMicros,
      lastDeliveryMicros: this.lastDeliveryMicros,
      latency: this.latency.toData(),
      alive: this.alive,
    };
  }

  async storm(command: StormCommand): Promise<StormReply> {
    const batch = new Batch(this, command.retries, command.retryDelayMs, Infinity, command.timeoutMs);
    const victims = this.streams.filter((stream) => stream.subscribed && stream.socket !== undefined);
    for (const stream of victims) {
      stream.drop();
    }
    this.sources = command.sources;
    for (const stream of victims) {
      batch.add(stream);
    }
    batch.start();
    await batch.done;
    return { ...batch.reply(), requested: victims.length, dropped: victims.length };
  }

  status(): StatusReply {
    return { alive: this.alive, sockets: this.sockets, ended: this.ended, rssBytes: process.memoryUsage().rss };
  }

  async close(): Promise<CloseReply> {
    let closed = 0;
    for (const stream of this.streams) {
      if (stream.socket !== undefined) {
        stream.drop();
        closed++;
      }
    }
    this.streams.length = 0;
    this.alive = 0;
    for (const key of Object.keys(this.ended)) {
      delete this.ended[key];
    }
    const deadline = Date.now() + 5000;
    while (this.sockets > 0 && Date.now() < deadline) {
      await sleep(10);
    }
    return { closed };
  }
}

async function handle(generator: LoadGenerator, command: Command): Promise<unknown> {
  switch (command.kind) {
    case "open":
      return generator.open(command);
    case "watch":
      generator.watch(command.epoch);
      return {};
    case "wait":
      return generator.wait(command);
    case "storm":
      return generator.storm(command);
    case "status":
      return generator.status();
    case "close":
      return generator.close();
    case "publish":
      return closedLoop(command);
  }
}

function main(): void {
  const generator = new LoadGenerator();
  process.on("message", (request: Request) => {
    handle(generator, request.command).then(
      (reply) => process.send?.({ id: request.id, reply }),
      (e: Error) => process.send?.({ id: request.id, error: e.message }),
    );
  });
  // The runner is gone (finished or crashed): nothing of ours may outlive it.
  process.on("disconnect", () => process.exit(0));
}

if (require.main === module) {
  main();
}
