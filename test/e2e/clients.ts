// Real clients for the transport tests: the `eventsource` npm client (SSE), the `ws` npm client
// (WebSocket), and headless Chromium driven by playwright-core (Debian's chromium package).

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EventSource } from "eventsource";
import { chromium, BrowserContext } from "playwright-core";
import WebSocket from "ws";
import { eventually } from "./harness";

export interface SseEvent {
  type: string;
  data: string;
  lastEventId: string;
}

/** An EventSource that records every event: messages, named `notice` and server `error` events. */
export class SseClient {
  readonly events: SseEvent[] = [];
  /** Connection errors (HTTP errors, dropped streams) that EventSource reports, with the status if any. */
  readonly failures: Array<number | undefined> = [];
  opens = 0;
  readonly source: EventSource;

  constructor(url: string, names: string[] = ["notice"]) {
    this.source = new EventSource(url);
    const record = (event: Event): void => {
      const message = event as Event & { data: string; lastEventId: string };
      this.events.push({ type: message.type, data: message.data, lastEventId: message.lastEventId });
    };
    this.source.onmessage = record;
    for (const name of names) {
      this.source.addEventListener(name, record);
    }
    this.source.addEventListener("error", (event) => {
      // The server's `event: error` carries data; EventSource's own connection errors do not.
      if ("data" in event && (event as { data?: string }).data !== undefined) {
        record(event);
      } else {
        this.failures.push((event as unknown as { code?: number }).code);
      }
    });
    this.source.onopen = () => {
      this.opens += 1;
    };
  }

  async opened(count = 1, timeoutMs = 5000): Promise<this> {
    if (!(await eventually(() => this.opens >= count, timeoutMs))) {
      throw new Error(`EventSource did not open ${count} time(s); failures: ${JSON.stringify(this.failures)}`);
    }
    return this;
  }

  messages(): SseEvent[] {
    return this.events.filter((e) => e.type === "message");
  }

  async waitFor(check: () => boolean, timeoutMs = 5000): Promise<boolean> {
    return eventually(check, timeoutMs);
  }

  close(): void {
    this.source.close();
  }
}

export type Frame = Record<string, unknown> & { type: string };

/** A `ws` client that records the JSON frames, pings and the close it gets. */
export class WsClient {
  readonly frames: Frame[] = [];
  readonly raw: string[] = [];
  pings = 0;
  closeCode: number | undefined;
  closeReason = "";
  readonly socket: WebSocket;
  readonly closed: Promise<void>;
  private readonly ready: Promise<void>;
  /** The HTTP status when the upgrade was refused. */
  refusedStatus: number | undefined;

  constructor(url: string, options: WebSocket.ClientOptions = {}) {
    this.socket = new WebSocket(url, options);
    this.socket.on("message", (data: WebSocket.RawData) => {
      const text = data.toString();
      this.raw.push(text);
      this.frames.push(JSON.parse(text) as Frame);
    });
    this.socket.on("ping", () => {
      this.pings += 1;
    });
    this.socket.on("unexpected-response", (_req, res) => {
      this.refusedStatus = res.statusCode;
      res.resume();
      this.socket.terminate();
    });
    this.closed = new Promise((done) => {
      this.socket.on("close", (code: number, reason: Buffer) => {
        this.closeCode = code;
        this.closeReason = reason.toString();
        done();
      });
    });
    this.ready = new Promise((done, fail) => {
      this.socket.once("open", () => done());
      this.socket.once("error", (e) => fail(e));
      this.socket.once("close", () => fail(new Error(`closed before open (status ${this.refusedStatus})`)));
    });
    this.ready.catch(() => undefined);
    this.socket.on("error", () => undefined);
  }

  async open(): Promise<this> {
    await this.ready;
    return this;
  }

  send(frame: unknown): void {
    this.socket.send(typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  /** Frames of `type` received so far. */
  of(type: string): Frame[] {
    return this.frames.filter((f) => f.type === type);
  }

  /** Waits for the first frame (from `from` on) that `match` accepts. */
  async next(match: (frame: Frame) => boolean, from = 0, timeoutMs = 5000): Promise<Frame> {
    let found: Frame | undefined;
    await eventually(() => {
      found = this.frames.slice(from).find(match);
      return found !== undefined || this.closeCode !== undefined;
    }, timeoutMs);
    if (found === undefined) {
      throw new Error(`no matching frame; got ${JSON.stringify(this.frames)} (close ${this.closeCode} ${this.closeReason})`);
    }
    return found;
  }

  /** Sends a control frame with a fresh ref and waits for the answer that carries it. */
  async request(frame: Record<string, unknown>, timeoutMs = 5000): Promise<Frame> {
    const ref = `r${Math.random().toString(36).slice(2)}`;
    const from = this.frames.length;
    this.send({ ...frame, ref });
    return this.next((f) => f.ref === ref, from, timeoutMs);
  }

  close(): void {
    this.socket.close();
  }
}

export const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** A headless Chromium with a fresh profile (its own --user-data-dir), removed on close. */
export async function launchChromium(): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), "pushgate-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
