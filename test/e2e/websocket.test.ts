// WebSocket end to end, in every subscription mode: real nginx, real Redis, and the `ws` npm
// client (Chromium's native WebSocket is in browser.test.ts).

import { mintToken } from "../../sdk";
import { WsClient } from "./clients";
import { eventually, fetchText, luaErrors, MODES, numsub, sleep, Stack, useStack, withStack } from "./harness";

const PAYLOADS = [
  "123",
  "héllo wörld ☃ 😀 中文",
  'say "hi" \\ back\\slash /slash',
  "line1\nline2\r\nline3\rline4",
  "tab\tcontrol\u0001\u001f del\u007f",
  "",
  '{"already":"json","n":[1,2,3]}',
];

function wsUrl(stack: Stack, path: string): string {
  return `${stack.base.replace(/^http/, "ws")}${path}`;
}

describe.each(MODES)("%s mode", (mode) => {
  const stack = useStack({ settings: { mode, heartbeatSeconds: "0.3", maxMessageBytes: "4096" } });

  test("?key= subscribes at connect; messages arrive in order and byte-exact", async () => {
    const client = await new WsClient(wsUrl(stack, "/ws?key=exact")).open();
    for (const payload of PAYLOADS) {
      await stack.client.publish("exact", payload);
    }
    expect(await eventually(() => client.of("message").length >= PAYLOADS.length)).toBe(true);
    expect(client.of("message")).toEqual(PAYLOADS.map((data) => ({ type: "message", channel: "exact", data })));
    expect(client.raw[0]).toBe('{"type":"message","channel":"exact","data":"123"}');
    client.close();
  });

  test("several channels at connect, each message tagged with its channel", async () => {
    const client = await new WsClient(wsUrl(stack, "/ws?key=w1,w2,w3")).open();
    await stack.client.publish("w2", "to 2");
    await stack.client.publish("w1", "to 1");
    await stack.client.publish("nobody", "x");
    await stack.client.publish("w3", "to 3");
    expect(await eventually(() => client.of("message").length >= 3)).toBe(true);
    expect(client.of("message")).toEqual([
      { type: "message", channel: "w2", data: "to 2" },
      { type: "message", channel: "w1", data: "to 1" },
      { type: "message", channel: "w3", data: "to 3" },
    ]);
    client.close();
  });

  test("subscribe and unsubscribe at run time, several channels at once", async () => {
    const client = await new WsClient(wsUrl(stack, "/ws")).open();
    expect(await client.request({ type: "subscribe", channels: ["rt1", "rt2", "rt3"] })).toMatchObject({ type: "subscribed", channels: ["rt1", "rt2", "rt3"] });
    await stack.client.publish("rt1", "a");
    await stack.client.publish("rt3", "c");
    expect(await eventually(() => client.of("message").length >= 2)).toBe(true);
    expect(await client.request({ type: "unsubscribe", channels: ["rt1", "rt3"] })).toMatchObject({ type: "unsubscribed", channels: ["rt1", "rt3"] });
    if (mode === "direct") {
      expect(await eventually(async () => (await numsub(stack.client, "rt1")) === 0)).toBe(true);
    }
    await stack.client.publish("rt1", "after unsubscribe");
    await stack.client.publish("rt3", "after unsubscribe");
    await stack.client.publish("rt2", "b");
    expect(await eventually(() => client.of("message").length >= 3)).toBe(true);
    await sleep(100);
    expect(client.of("message")).toEqual([
      { type: "message", channel: "rt1", data: "a" },
      { type: "message", channel: "rt3", data: "c" },
      { type: "message", channel: "rt2", data: "b" },
    ]);
    // the last channel can go too, and come back
    await client.request({ type: "unsubscribe", channels: ["rt2"] });
    await client.request({ type: "subscribe", channels: ["rt2"] });
    await stack.client.publish("rt2", "again");
    expect(await eventually(() => client.of("message").length >= 4)).toBe(true);
    client.close();
  });

  test("a client ping gets a pong with its ref", async () => {
    const client = await new WsClient(wsUrl(stack, "/ws")).open();
    client.send({ type: "ping", ref: "p1" });
    expect(await client.next((f) => f.type === "pong")).toEqual({ type: "pong", ref: "p1" });
    client.send({ type: "ping" });
    await eventually(() => client.of("pong").length === 2);
    expect(client.raw[1]).toBe('{"type":"pong"}');
    client.close();
  });

  test("a numeric ref is accepted and echoed as a number, a string ref as a string", async () => {
    const client = await new WsClient(wsUrl(stack, "/ws")).open();
    client.send({ type: "subscribe", channels: ["numref"], ref: 1 });
    await client.next((f) => f.type === "subscribed");
    expect(client.raw[0]).toBe('{"type":"subscribed","channels":["numref"],"ref":1}');
    client.send({ type: "ping", ref: "1" });
    await client.next((f) => f.type === "pong");
    expect(client.raw[1]).toBe('{"type":"pong","ref":"1"}');
    client.send({ type: "subscribe", channels: ["bad name!"], ref: 2 });
    await client.next((f) => f.type === "error");
    expect(JSON.parse(client.raw[2])).toMatchObject({ type: "error", ref: 2 });
    client.send({ type: "ping", ref: 1.5 });
    expect(await client.next((f) => f.type === "error", 3)).toEqual({ type: "error", error: expect.stringContaining('"ref" must be a string') });
    await stack.client.publish("numref", "subscribed by a numeric ref");
    expect(await client.next((f) => f.type === "message")).toMatchObject({ channel: "numref", data: "subscribed by a numeric ref" });
    client.close();
  });

  test("a publish frame reaches the channel's subscribers and is answered like POST /pub", async () => {
    const reader = await new WsClient(wsUrl(stack, "/ws?key=chat")).open();
    const writer = await new WsClient(wsUrl(stack, "/ws")).open();
    const data = 'from ws ☃ "quoted"\n';
    const published = await writer.request({ type: "publish", channel: "chat", data, event: "said" });
    expect(published).toMatchObject({ type: "published", channel: "chat", id: expect.stringMatching(/^\d+-\d+$/), subscribers: 1 });
    const id = published.id as string;
    // durable: it has an id (on a one-channel stream the cursor is the id) and its event name
    expect(await reader.next((f) => f.type === "message")).toEqual({ type: "message", channel: "chat", id, event: "said", cursor: id, data });
    expect(reader.raw[0]).toBe(`{"type":"message","channel":"chat","id":"${id}","event":"said","cursor":"${id}","data":"from ws ☃ \\"quoted\\"\\n"}`);
    const again = await writer.request({ type: "publish", channel: "chat", data: "once", idempotencyKey: "k1" });
    expect(await writer.request({ type: "publish", channel: "chat", data: "once", idempotencyKey: "k1" })).toMatchObject({ id: again.id, duplicate: true });
    expect(await writer.request({ type: "publish", channel: "chat", data: "x", event: "bad name" })).toMatchObject({
      type: "error",
      error: expect.stringContaining('"event" must be'),
    });
    const tooBig = await writer.request({ type: "publish", channel: "chat", data: "x".repeat(4097) });
    expect(tooBig).toMatchObject({ type: "error", error: "message too large: the limit is 4096 bytes" });
    reader.close();
    writer.close();
  });

  test("an ack frame moves the user's read position; hello is refused with how to resume instead", async () => {
    const answer = await fetchText(`${stack.base}/pub?channel=user:wsack`, { method: "POST", body: "unread" });
    const { id } = JSON.parse(answer.body) as { id: string };
    const user = await new WsClient(wsUrl(stack, "/ws?user=wsack")).open();
    expect(await user.request({ type: "ack", channel: "user:wsack", id })).toMatchObject({ type: "acked", channel: "user:wsack", read: id });
    expect(await user.request({ type: "ack", channel: "user:wsack", id: "1-0" })).toMatchObject({ type: "acked", read: id }); // never back
    const newer = `${id.split("-")[0]}-${Number(id.split("-")[1]) + 1}`;
    user.send({ type: "ack", channel: "user:wsack", id: newer, ref: 9 });
    expect(await user.next((f) => f.ref === 9)).toEqual({
      type: "error",
      error: `id ${newer} is newer than the last message of user:wsack (${id})`,
      ref: 9,
    });
    const unread = JSON.parse((await fetchText(`${stack.base}/unread?key=user:wsack&user=wsack`)).body) as { unread: Record<string, number> };
    expect(unread.unread["user:wsack"]).toBe(0);
    user.close();
    const client = await new WsClient(wsUrl(stack, "/ws")).open();
    expect(await client.request({ type: "ack", channel: "user:1", id: "1-0" })).toMatchObject({
      type: "error",
      error: expect.stringContaining("ack needs a user"),
    });
    expect(await client.request({ type: "hello", cursors: { a: "x-0" } })).toMatchObject({
      type: "error",
      error: expect.stringContaining("has no message id"),
    });
    expect(await client.request({ type: "hello" })).toMatchObject({ type: "error", error: 'hello: give "cursor" or "cursors"' });
    client.close();
  });

  test("a hello frame resumes from its cursor: exactly what was missed, then live, even while publishing", async () => {
    const first = await new WsClient(wsUrl(stack, "/ws?key=hello1")).open();
    const seen = (await fetchText(`${stack.base}/pub?channel=hello1`, { method: "POST", body: "seen" })).body;
    const seenId = (JSON.parse(seen) as { id: string }).id;
    await first.next((f) => f.type === "message");
    first.close();
    const missed: string[] = [];
    for (let i = 0; i < 20; i++) {
      missed.push((JSON.parse((await fetchText(`${stack.base}/pub?channel=hello1`, { method: "POST", body: `m${i}` })).body) as { id: string }).id);
    }
    // a publisher keeps going while the hello is handled: nothing lost, nothing twice, in order
    let publishing = true;
    const live: string[] = [];
    const publisher = (async () => {
      for (let i = 0; publishing && i < 300; i++) {
        live.push((JSON.parse((await fetchText(`${stack.base}/pub?channel=hello1`, { method: "POST", body: `live${i}` })).body) as { id: string }).id);
      }
    })();
    const again = await new WsClient(wsUrl(stack, "/ws")).open();
    expect(await again.request({ type: "hello", cursor: `hello1=${seenId}` })).toMatchObject({ type: "resumed", channels: ["hello1"] });
    await sleep(300);
    publishing = false;
    await publisher;
    const expected = [...missed, ...live];
    expect(await eventually(() => again.of("message").length >= expected.length, 10000)).toBe(true);
    await sleep(200);
    expect(again.of("message").map((f) => f.id)).toEqual(expected);
    again.close();
  });

  test("bad frames get an error frame and the connection goes on", async () => {
    const client = await new WsClient(wsUrl(stack, "/ws")).open();
    client.send("not json");
    expect((await client.next((f) => f.type === "error")).error).toMatch(/^invalid json: /);
    expect(await client.request({ type: "shout" })).toMatchObject({ type: "error", error: expect.stringContaining("unknown type") });
    expect(await client.request({ type: "subscribe", channels: ["ok", "not ok"] })).toMatchObject({
      error: expect.stringContaining("invalid channel name at position 2"),
    });
    const many = Array.from({ length: 17 }, (_, i) => `m${i}`);
    expect(await client.request({ type: "subscribe", channels: many })).toMatchObject({ error: expect.stringContaining("too many channels") });
    expect(await client.request({ type: "subscribe", channels: many.slice(0, 10) })).toMatchObject({ type: "subscribed" });
    expect(await client.request({ type: "subscribe", channels: many.slice(10) })).toMatchObject({ error: "too many channels: at most 16 per connection" });
    const from = client.frames.length;
    client.socket.send(Buffer.from([1, 2, 3]), { binary: true });
    expect((await client.next((f) => f.type === "error", from)).error).toContain("binary frames are not supported");
    expect(await client.request({ type: "ping" })).toMatchObject({ type: "pong" });
    expect(client.closeCode).toBeUndefined();
    client.close();
  });

  test("a message in fragments is put together", async () => {
    const client = await new WsClient(wsUrl(stack, "/ws")).open();
    const text = JSON.stringify({ type: "ping", ref: "fragmented ☃" });
    const bytes = Buffer.from(text);
    client.socket.send(bytes.subarray(0, 5), { binary: false, fin: false });
    client.socket.send(bytes.subarray(5, 20), { binary: false, fin: false });
    client.socket.send(bytes.subarray(20), { binary: false, fin: true });
    expect(await client.next((f) => f.type === "pong")).toEqual({ type: "pong", ref: "fragmented ☃" });
    client.close();
  });

  test("invalid UTF-8 closes with 1007", async () => {
    const client = await new WsClient(wsUrl(stack, "/ws")).open();
    client.socket.send(Buffer.from([0x7b, 0xff, 0x7d]), { binary: false });
    await client.closed;
    expect(client.closeCode).toBe(1007);
  });

  test("a frame over the limit closes with 1009", async () => {
    const client = await new WsClient(wsUrl(stack, "/ws")).open();
    client.send(JSON.stringify({ type: "publish", channel: "big", data: "x".repeat(80000) }));
    await client.closed;
    expect(client.closeCode).toBe(1009);
  });

  test("the server pings a silent client, and closes one that stops answering", async () => {
    const alive = await new WsClient(wsUrl(stack, "/ws?key=idle")).open();
    const deaf = await new WsClient(wsUrl(stack, "/ws?key=idle"), { autoPong: false }).open();
    await sleep(1500);
    expect(alive.pings).toBeGreaterThanOrEqual(2);
    expect(alive.closeCode).toBeUndefined();
    await deaf.closed;
    expect(deaf.closeCode).toBe(1001);
    expect(deaf.closeReason).toBe("no answer to ping");
    alive.close();
  });

  test("a client that closes is answered and frees its subscription", async () => {
    // /status sums each worker's figures of the last second; the earlier tests closed their clients.
    const subscribers = async (): Promise<number> => (await stack.status()).totals.subscribers;
    const before = 0;
    const client = await new WsClient(wsUrl(stack, "/ws?key=leaving")).open();
    if (mode === "shared") {
      expect(await eventually(async () => (await subscribers()) === before + 1, 5000)).toBe(true);
    }
    client.socket.close(1000, "bye");
    await client.closed;
    expect(client.closeCode).toBe(1000);
    if (mode === "direct") {
      expect(await eventually(async () => (await numsub(stack.client, "leaving")) === 0)).toBe(true);
    } else {
      expect(await eventually(async () => (await subscribers()) === before, 5000)).toBe(true);
    }
  });

  describe("requests that cannot upgrade get an HTTP error", () => {
    test("a plain GET is 426", async () => {
      const answer = await fetchText(`${stack.base}/ws?key=a`);
      expect(answer.status).toBe(426);
      expect(answer.headers.upgrade).toBe("websocket");
      expect((JSON.parse(answer.body) as { error: string }).error).toContain("use a WebSocket upgrade");
    });

    test.each([
      ["invalid name", "/ws?key=a%20b", "invalid channel name at position 1"],
      ["too many channels", `/ws?key=${Array.from({ length: 17 }, (_, i) => `c${i}`).join(",")}`, "too many channels"],
    ])("%s is 400", async (_name, path) => {
      const client = new WsClient(wsUrl(stack, path));
      await expect(client.open()).rejects.toThrow();
      expect(client.refusedStatus).toBe(400);
    });
  });
});

describe.each(MODES)("%s mode: the server ends a connection with a close code that says why", (mode) => {
  test("reload: 1012", async () => {
    await withStack({ settings: { mode } }, async (stack) => {
      const clients = await Promise.all([1, 2, 3].map(() => new WsClient(wsUrl(stack, "/ws?key=reload")).open()));
      stack.gateway.reload();
      await Promise.all(clients.map((c) => c.closed));
      for (const client of clients) {
        expect(client.closeCode).toBe(1012);
        expect(client.closeReason).toBe("server restart");
      }
      const again = await new WsClient(wsUrl(stack, "/ws?key=reload")).open();
      expect(
        await eventually(
          async () => {
            await stack.client.publish("reload", "after");
            return again.of("message").length > 0;
          },
          5000,
          200,
        ),
      ).toBe(true);
      again.close();
      expect(luaErrors(stack.errorLog())).toEqual([]);
    });
  });

  if (mode === "direct") {
    test("Redis gone: 1011", async () => {
      await withStack({ settings: { mode } }, async (stack) => {
        const client = await new WsClient(wsUrl(stack, "/ws?key=doomed")).open();
        stack.redis.process.kill("SIGKILL");
        await client.closed;
        expect(client.closeCode).toBe(1011);
        expect(client.closeReason).toBe("redis connection lost");
      });
    });
  } else {
    test("a client too slow for its queue: 1008", async () => {
      await withStack({ settings: { mode, queueMessages: "5", workers: "1" } }, async (stack) => {
        const client = await new WsClient(wsUrl(stack, "/ws?key=flood")).open();
        const tcp = (client.socket as unknown as { _socket: { pause(): void; resume(): void } })._socket;
        tcp.pause();
        const big = "y".repeat(100000);
        for (let i = 0; i < 200; i++) {
          await stack.client.publish("flood", big);
        }
        await sleep(500);
        tcp.resume();
        await client.closed;
        expect(client.closeCode).toBe(1008);
        expect(client.closeReason).toBe("client too slow: its queue overflowed");
        expect(luaErrors(stack.errorLog())).toEqual([]);
      });
    });
  }
});

describe("tokens (PUSHGATE_JWT_SECRET set)", () => {
  const SECRET = "websocket-test-secret-of-at-least-32-bytes";
  test("grants decide what a connection may subscribe to and publish to at run time", async () => {
    await withStack({ settings: { jwtSecret: SECRET, workers: "1" } }, async (stack) => {
      const refused = new WsClient(wsUrl(stack, "/ws?key=room:1"));
      await expect(refused.open()).rejects.toThrow();
      expect(refused.refusedStatus).toBe(401);
      const token = mintToken({ sub: "alice", channels: ["room:*"], publish: ["room:1"], ttl: 600 }, SECRET);
      const client = await new WsClient(wsUrl(stack, `/ws?key=room:1&token=${token}`)).open();
      expect(await client.request({ type: "subscribe", channels: ["room:2"] })).toMatchObject({ type: "subscribed" });
      expect(await client.request({ type: "subscribe", channels: ["secret"] })).toMatchObject({
        type: "error",
        error: "channel secret is not granted by the token",
      });
      expect(await client.request({ type: "publish", channel: "room:2", data: "x" })).toMatchObject({
        type: "error",
        error: "publishing to channel room:2 is not granted by the token",
      });
      expect(await client.request({ type: "publish", channel: "room:1", data: "hello" })).toMatchObject({ type: "published", channel: "room:1" });
      expect(await client.next((f) => f.type === "message")).toMatchObject({ channel: "room:1", data: "hello" });
      const reader = mintToken({ sub: "bob", channels: ["room:*"], ttl: 600 }, SECRET);
      const readOnly = await new WsClient(wsUrl(stack, `/ws?token=${reader}`)).open();
      expect(await readOnly.request({ type: "publish", channel: "room:1", data: "x" })).toMatchObject({
        type: "error",
        error: "publishing to channel room:1 is not granted by the token",
      });
      client.close();
      readOnly.close();
      expect(luaErrors(stack.errorLog())).toEqual([]);
    });
  });
});

describe("Origin check", () => {
  test("with corsOrigins set, an upgrade from another origin is 403; listed and same origins pass", async () => {
    await withStack({ settings: { corsOrigins: "http://app.test", workers: "1" } }, async (stack) => {
      const foreign = new WsClient(wsUrl(stack, "/ws"), { origin: "http://evil.test" });
      await expect(foreign.open()).rejects.toThrow();
      expect(foreign.refusedStatus).toBe(403);
      const listed = await new WsClient(wsUrl(stack, "/ws"), { origin: "http://app.test" }).open();
      listed.close();
      const same = await new WsClient(wsUrl(stack, "/ws"), { origin: stack.base }).open();
      same.close();
    });
  });
});
