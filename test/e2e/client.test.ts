// The client library (client/) in Node against a real gateway and Redis: every transport, auto
// with WebSocket blocked, publish and ack through the client, and durable messages delivered
// exactly once and in order across a gateway reload, nginx workers killed and a Redis restart,
// and past the expiry of the first token.

import { readFileSync } from "node:fs";
import { EventSource } from "eventsource";
import WebSocket from "ws";
import { Message, Notice, State, subscribe, SubscribeOptions, Subscription } from "../../client/src/client";
import { mintToken } from "../../sdk";
import { Stack, eventually, fetchText, luaErrors, sleep, startStack } from "./harness";

const TRANSPORTS = ["ws", "sse", "longpoll"] as const;
/** What Node lacks: the WebSocket and EventSource classes (fetch is global). */
const NODE: SubscribeOptions = { WebSocket, EventSource, reconnectMs: 200, maxReconnectMs: 2000 };

/** A subscription and everything it emitted. */
interface Recorded {
  sub: Subscription;
  messages: Message[];
  states: State[];
  notices: Notice[];
  errors: Error[];
}

function record(sub: Subscription): Recorded {
  const recorded: Recorded = { sub, messages: [], states: [], notices: [], errors: [] };
  sub.on("message", (message) => recorded.messages.push(message));
  sub.on("state", (state) => recorded.states.push(state));
  sub.on("notice", (notice) => recorded.notices.push(notice));
  sub.on("error", (error) => recorded.errors.push(error));
  return recorded;
}

async function opened(recorded: Recorded, timeoutMs = 10000): Promise<void> {
  if (!(await eventually(() => recorded.sub.state === "open", timeoutMs))) {
    throw new Error(`${recorded.sub.transport} did not open: states ${recorded.states.join(",")}, errors ${recorded.errors.map((e) => e.message).join("; ")}`);
  }
}

function workerPids(stack: Stack): number[] {
  const master = stack.gateway.process.pid!;
  return readFileSync(`/proc/${master}/task/${master}/children`, "utf8").trim().split(/\s+/).map(Number);
}

/** POST /pub until the gateway takes it (503 while Redis is down); one Idempotency-Key per message, so a retry is stored once. */
async function publishDurably(stack: Stack, channel: string, data: string, key: string, headers: Record<string, string> = {}): Promise<string> {
  for (;;) {
    const answer = await fetchText(`${stack.base}/pub?channel=${channel}`, {
      method: "POST",
      body: data,
      headers: { "Idempotency-Key": key, ...headers },
    }).catch(() => undefined);
    if (answer?.status === 200) {
      return (JSON.parse(answer.body) as { id: string }).id;
    }
    await sleep(50);
  }
}

/**
 * Every transport subscribes to `channel`; numbered messages are published one every 40 ms,
 * `disrupt` runs after the 20th, and publishing goes on until every subscription has come back
 * (`settled`) and 20 more have gone out. Each payload must arrive once, in order.
 */
async function exactlyOnceThrough(
  stack: Stack,
  channel: string,
  disrupt: () => Promise<void> | void,
  settled: (recorded: Recorded) => boolean,
  timeoutMs: number,
): Promise<Recorded[]> {
  const subs = TRANSPORTS.map((transport) => record(subscribe(channel, { ...NODE, url: stack.base, transport, longPollSeconds: 5 })));
  for (const recorded of subs) {
    await opened(recorded);
  }
  const payloads: string[] = [];
  const deadline = Date.now() + timeoutMs;
  let settledAt: number | undefined;
  for (let i = 0; settledAt === undefined || i < settledAt + 20; i++) {
    if (i === 20) {
      await disrupt();
    }
    if (settledAt === undefined && i > 20 && subs.every(settled)) {
      settledAt = i;
    }
    if (Date.now() > deadline) {
      throw new Error(`not settled within ${timeoutMs} ms: ${subs.map((r) => `${r.sub.transport} ${r.states.join(",")}`).join("; ")}`);
    }
    const payload = `${channel} #${i} ☃`;
    await publishDurably(stack, channel, payload, `${channel}-${i}`);
    payloads.push(payload);
    await sleep(40);
  }
  await eventually(() => subs.every((r) => r.messages.length >= payloads.length), 10000, 50);
  await sleep(300); // a repeat would come now
  for (const recorded of subs) {
    const transport = recorded.sub.transport;
    expect({ transport, got: recorded.messages.map((m) => m.data) }).toEqual({ transport, got: payloads });
    expect({ transport, errors: recorded.errors }).toEqual({ transport, errors: [] });
    recorded.sub.close();
  }
  return subs;
}

/** Came back: reconnected and open again. */
const reconnected = (recorded: Recorded): boolean => recorded.notices.some((n) => n.notice === "recovered") && recorded.sub.state === "open";

describe("client library in Node", () => {
  jest.setTimeout(60000);
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ settings: { retryAfterSeconds: "1" } });
  });
  afterAll(async () => {
    // The worker kill below is on purpose; anything else is a failure.
    const log = stack.errorLog().replace(/^.*worker process \d+ exited on signal 9.*$/gm, "");
    expect(luaErrors(log)).toEqual([]);
    await stack.stop();
  });

  test.each(TRANSPORTS)("%s: receives with ids and events, publishes and acks through the client", async (transport) => {
    const [room, inbox] = [`room-${transport}`, `inbox-${transport}`];
    const recorded = record(subscribe([room, inbox], { ...NODE, url: stack.base, transport, user: `u-${transport}` }));
    await opened(recorded);
    expect(recorded.states).toEqual(["open"]);
    const first = await recorded.sub.publish(room, 'hello ☃ "quoted"\nline 2', { event: "chat" });
    expect(first).toMatchObject({ channel: room, id: expect.stringMatching(/^\d+-\d+$/) });
    const second = await recorded.sub.publish(inbox, "to the inbox", { idempotencyKey: `k-${transport}` });
    const again = await recorded.sub.publish(inbox, "to the inbox", { idempotencyKey: `k-${transport}` });
    expect(again).toMatchObject({ id: second.id, duplicate: true });
    // A plain PUBLISH is not kept: a long-poll gets it only while a poll is parked. So publish it
    // once the durable two are in and the gateway holds this client's next poll (or stream).
    expect(await eventually(async () => recorded.messages.length >= 2 && (await stack.status()).totals.subscribers >= 1)).toBe(true);
    await stack.client.publish(room, "plain PUBLISH: no id");
    await eventually(() => recorded.messages.length >= 3);
    expect(recorded.messages).toEqual([
      { channel: room, id: first.id, data: 'hello ☃ "quoted"\nline 2', event: "chat" },
      { channel: inbox, id: second.id, data: "to the inbox", event: undefined },
      { channel: room, id: undefined, data: "plain PUBLISH: no id", event: undefined },
    ]);
    expect(await recorded.sub.ack(inbox, second.id)).toEqual({ channel: inbox, read: second.id });
    const unread = await fetchText(`${stack.base}/unread?key=${inbox}&user=u-${transport}`);
    expect(JSON.parse(unread.body)).toEqual({ unread: { [inbox]: 0 } });
    expect(recorded.sub.cursor).toBe(`${room}=${first.id},${inbox}=${second.id}`);
    recorded.sub.close();
    expect(recorded.states).toEqual(["open", "closed"]);
    expect(recorded.errors).toEqual([]);
  });

  test("since: a subscription resumes from a cursor, without what came before it", async () => {
    const ids: string[] = [];
    for (const data of ["one", "two", "three"]) {
      ids.push(await publishDurably(stack, "since", data, `since-${data}`));
    }
    for (const transport of TRANSPORTS) {
      const recorded = record(subscribe("since", { ...NODE, url: stack.base, transport, since: ids[0] }));
      await eventually(() => recorded.messages.length >= 2);
      await sleep(100);
      expect(recorded.messages.map((m) => m.data)).toEqual(["two", "three"]);
      recorded.sub.close();
    }
  });

  test("auto: WebSocket refused (404 on its URL) falls back to Server-Sent Events, and without EventSource to long-poll", async () => {
    const blocked = `${stack.base.replace(/^http/, "ws")}/no-websocket-here`;
    const sse = record(subscribe("fallback", { ...NODE, url: stack.base, wsUrl: blocked }));
    await opened(sse);
    expect(sse.sub.transport).toBe("sse");
    expect(sse.notices.map((n) => n.notice)).toEqual(["fallback"]);
    const longpoll = record(subscribe("fallback", { ...NODE, EventSource: undefined, url: stack.base, wsUrl: blocked }));
    await opened(longpoll);
    expect(longpoll.sub.transport).toBe("longpoll");
    const id = await publishDurably(stack, "fallback", "through the fallback", "fallback-1");
    await eventually(() => sse.messages.length >= 1 && longpoll.messages.length >= 1);
    for (const recorded of [sse, longpoll]) {
      expect(recorded.messages).toEqual([{ channel: "fallback", id, data: "through the fallback", event: undefined }]);
      expect(recorded.states).toEqual(["open"]);
      recorded.sub.close();
    }
  });

  test("a refusal that trying again cannot fix (400: invalid channel) closes the subscription with an error", async () => {
    for (const transport of ["auto", ...TRANSPORTS] as const) {
      const recorded = record(subscribe("bad channel!", { ...NODE, url: stack.base, transport }));
      await eventually(() => recorded.sub.state === "closed");
      expect(recorded.states).toEqual(["closed"]);
      expect(recorded.errors.map((e) => [(e as { status?: number }).status, (e as { fatal?: boolean }).fatal])).toEqual([[400, true]]);
    }
  });

  test("a gateway reload: every transport gets each message once, in order", async () => {
    // Streams are told "server restart" and come back to the new workers; a parked long-poll is
    // answered at once and the next poll goes to a new worker, no reconnect needed.
    const subs = await exactlyOnceThrough(
      stack,
      "reload",
      () => stack.gateway.reload(),
      (r) => r.sub.transport === "longpoll" || reconnected(r),
      30000,
    );
    for (const recorded of subs.filter((r) => r.sub.transport !== "longpoll")) {
      expect(recorded.states).toContain("reconnecting");
    }
  });

  test("nginx workers killed (SIGKILL): every transport gets each message once, in order", async () => {
    const subs = await exactlyOnceThrough(
      stack,
      "killed",
      () => {
        for (const pid of workerPids(stack)) {
          process.kill(pid, "SIGKILL");
        }
      },
      reconnected,
      20000,
    );
    for (const recorded of subs) {
      expect(recorded.states).toContain("reconnecting");
    }
  });

  test("a Redis restart: every transport gets each message once, in order", async () => {
    // Streams stay open through it (shared mode) with notices; the client comes back from its
    // cursor on redis-restored, so what was published before the hub had subscribed again arrives.
    const restored = (recorded: Recorded): boolean => recorded.sub.transport === "longpoll" || recorded.notices.some((n) => n.notice === "redis-restored");
    await exactlyOnceThrough(stack, "redis", () => stack.restartRedis(300), restored, 20000);
  });
});

describe("client library with tokens", () => {
  jest.setTimeout(60000);
  const SECRET = "client-test-secret-client-test-secret-0123456789";
  const PUBLISHER_KEY = "client-test-publisher-key-0123456789-abcdefghij";
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ settings: { jwtSecret: SECRET, publisherKey: PUBLISHER_KEY, jwtLeewaySeconds: "0", retryAfterSeconds: "1" } });
  });
  afterAll(async () => {
    expect(luaErrors(stack.errorLog())).toEqual([]);
    await stack.stop();
  });

  test("getToken: every transport keeps receiving past the first token's expiry", async () => {
    const minted: Record<string, number> = {};
    const subs = TRANSPORTS.map((transport) => {
      minted[transport] = 0;
      const getToken = (): string => {
        minted[transport] += 1;
        return mintToken({ sub: `user-${transport}`, channels: ["ticks"], ttl: 3 }, SECRET);
      };
      return record(subscribe("ticks", { ...NODE, url: stack.base, transport, getToken, refreshSeconds: 1, longPollSeconds: 5 }));
    });
    for (const recorded of subs) {
      await opened(recorded);
    }
    const payloads: string[] = [];
    const until = Date.now() + 8000; // over two lifetimes of a 3-second token
    for (let i = 0; Date.now() < until; i++) {
      payloads.push(`tick ${i}`);
      await publishDurably(stack, "ticks", `tick ${i}`, `tick-${i}`, { Authorization: `Bearer ${PUBLISHER_KEY}` });
      await sleep(100);
    }
    await eventually(() => subs.every((r) => r.messages.length >= payloads.length), 10000);
    for (const recorded of subs) {
      const transport = recorded.sub.transport;
      expect({ transport, got: recorded.messages.map((m) => m.data) }).toEqual({ transport, got: payloads });
      expect({ transport, errors: recorded.errors }).toEqual({ transport, errors: [] });
      expect(minted[transport]).toBeGreaterThanOrEqual(3);
      expect(recorded.sub.state).toBe("open");
      if (transport === "ws") {
        // on WebSocket the new tokens go as refresh frames: the one connection stays open throughout
        expect(recorded.states.filter((state) => state !== "connecting")).toEqual(["open"]);
      }
      recorded.sub.close();
    }
  });

  test("without getToken, a token that expires ends the subscription: state closed and an error", async () => {
    for (const transport of ["ws", "sse"] as const) {
      const token = mintToken({ sub: "short", channels: ["ticks"], ttl: 2 }, SECRET);
      const recorded = record(subscribe("ticks", { ...NODE, url: stack.base, transport, token }));
      await opened(recorded);
      expect(await eventually(() => recorded.sub.state === "closed", 8000)).toBe(true);
      expect(recorded.states).toEqual(["open", "closed"]);
      expect(recorded.errors.map((e) => [e.message, (e as { fatal?: boolean }).fatal])).toEqual([["token expired", true]]);
    }
  });
});
