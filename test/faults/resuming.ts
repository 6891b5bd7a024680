// Clients that resume after any end, one per transport and resume style, for the fault test. Each
// keeps, per channel, the ids it received in order, and when the server told it of a restart, so
// the test can count what was lost, doubled or reordered, and how fast a reload reached it.

import { get, IncomingMessage } from "node:http";
import { EventSource } from "eventsource";
import WebSocket from "ws";

export interface Line {
  type: string;
  channel?: string;
  id?: string;
  cursor?: string;
  error?: string;
  notice?: string;
  channels?: string[];
}

/** The bookkeeping every resuming client shares. */
export abstract class ResumingClient {
  /** Per channel, the ids received, in order. */
  readonly received = new Map<string, string[]>();
  /** When the server told this client it restarts (a last line, a close code, an answer). */
  readonly restartsAt: number[] = [];
  connected = false;
  stopped = false;
  /** Where to resume: the cursor after the last message. */
  cursor: string | undefined;

  constructor(
    readonly name: string,
    protected readonly base: string,
    protected readonly channels: string[],
  ) {}

  abstract start(): void;
  abstract stop(): void;

  /** Records a message line (the /sub object shape); false when it carries no id. */
  protected take(line: Line): void {
    if (line.type !== "message" || line.id === undefined || line.channel === undefined) {
      return;
    }
    const ids = this.received.get(line.channel) ?? [];
    ids.push(line.id);
    this.received.set(line.channel, ids);
    this.cursor = line.cursor ?? (this.channels.length === 1 ? line.id : this.cursor);
  }

  protected since(): string {
    return encodeURIComponent(this.cursor ?? "oldest");
  }

  protected later(action: () => void, ms = 100): void {
    if (!this.stopped) {
      setTimeout(() => !this.stopped && action(), ms);
    }
  }
}

/** GET /sub, chunked JSON lines; reconnects with ?since=. */
export class ChunkedClient extends ResumingClient {
  private response: IncomingMessage | undefined;
  /** Which connection is current: a dropped one may report its end twice (error, close), and only once may it start the next. */
  private generation = 0;

  start(): void {
    const generation = ++this.generation;
    const again = (delayMs: number): void => {
      if (generation === this.generation) {
        this.generation += 1; // this connection is over: nothing of it starts another
        this.connected = false;
        this.later(() => this.start(), delayMs);
      }
    };
    const request = get(`${this.base}/sub?key=${this.channels.join(",")}&since=${this.since()}`, { agent: false }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        res.on("end", () => again(200));
        return;
      }
      this.response = res;
      this.connected = true;
      let buffered = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        buffered += chunk;
        let newline = buffered.indexOf("\n");
        while (newline >= 0) {
          const text = buffered.slice(0, newline);
          buffered = buffered.slice(newline + 1);
          if (text.length > 0) {
            const line = JSON.parse(text) as Line;
            if (line.type === "error" && line.error === "server restart") {
              this.restartsAt.push(Date.now());
            }
            this.take(line);
          }
          newline = buffered.indexOf("\n");
        }
      });
      res.on("end", () => again(100));
      res.on("error", () => undefined);
      res.on("close", () => again(100));
    });
    request.on("error", () => again(200));
  }

  stop(): void {
    this.stopped = true;
    this.response?.destroy();
  }
}

/** GET /sse with the `eventsource` package: it resumes with Last-Event-ID by itself; a refused reconnect is started anew. */
export class SseClient extends ResumingClient {
  private source: EventSource | undefined;

  start(): void {
    const source = new EventSource(`${this.base}/sse?key=${this.channels.join(",")}&format=object&since=${this.since()}`);
    this.source = source;
    source.onopen = () => (this.connected = true);
    source.onmessage = (event) => this.take(JSON.parse(event.data as string) as Line);
    source.addEventListener("error", (event) => {
      const data = (event as { data?: string }).data;
      if (data !== undefined && data.includes("server restart")) {
        this.restartsAt.push(Date.now());
      }
      this.connected = false;
      if (source.readyState === source.CLOSED) {
        this.later(() => this.start(), 200); // a 503 while Redis is away: EventSource gives up, this does not
      }
    });
  }

  stop(): void {
    this.stopped = true;
    this.source?.close();
  }
}

/**
 * GET /ws. Style "since": reconnects with ?since=. Style "hello": connects with ?key= only and
 * sends {"type":"hello","cursor":…} on open and after a redis-restored notice; frames that arrive
 * between a hello and its `resumed` come again after it, so they are set aside.
 */
export class WsClient extends ResumingClient {
  private socket: WebSocket | undefined;
  private helloPending = false;

  constructor(
    name: string,
    base: string,
    channels: string[],
    private readonly style: "since" | "hello",
  ) {
    super(name, base, channels);
  }

  start(): void {
    const wsBase = this.base.replace(/^http/, "ws");
    const query = this.style === "since" ? `&since=${this.since()}` : "";
    const socket = new WebSocket(`${wsBase}/ws?key=${this.channels.join(",")}${query}`);
    this.socket = socket;
    socket.on("open", () => {
      this.connected = true;
      if (this.style === "hello") {
        this.hello();
      }
    });
    socket.on("message", (raw) => {
      const line = JSON.parse(raw.toString()) as Line;
      if (line.type === "resumed") {
        this.helloPending = false;
      } else if (line.type === "notice" && line.notice === "redis-restored" && this.style === "hello") {
        this.hello();
      } else if (!this.helloPending) {
        this.take(line);
      }
    });
    socket.on("close", (code) => {
      if (code === 1012) {
        this.restartsAt.push(Date.now());
      }
      this.connected = false;
      this.later(() => this.start(), 100);
    });
    socket.on("error", () => undefined);
  }

  private hello(): void {
    this.helloPending = true;
    this.socket?.send(JSON.stringify({ type: "hello", cursor: this.cursor ?? "0-0" }));
  }

  stop(): void {
    this.stopped = true;
    this.socket?.terminate();
  }
}

/** GET /lp in a loop, each poll from the cursor the last one answered (not a stream: no restart line to time). */
export class LongPollClient extends ResumingClient {
  private controller: AbortController | undefined;

  start(): void {
    void this.loop();
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      this.controller = new AbortController();
      try {
        this.connected = true;
        const answer = await fetch(`${this.base}/lp?key=${this.channels.join(",")}&timeout=5&since=${this.since()}`, { signal: this.controller.signal });
        const text = await answer.text();
        if (answer.status === 200) {
          const batch = JSON.parse(text) as { messages: Array<{ channel: string; id?: string }>; cursor?: string };
          for (const message of batch.messages) {
            this.take({ type: "message", channel: message.channel, id: message.id, cursor: batch.cursor });
          }
          this.cursor = batch.cursor ?? this.cursor;
        } else {
          await new Promise((done) => setTimeout(done, 200));
        }
      } catch {
        await new Promise((done) => setTimeout(done, 200));
      }
    }
  }

  stop(): void {
    this.stopped = true;
    this.controller?.abort();
  }
}
