// Server-Sent Events end to end, in every subscription mode: real nginx, real Redis, and the
// `eventsource` npm client (Chromium's native EventSource is in browser.test.ts).

import { SseClient } from "./clients";
import { eventually, fetchText, luaErrors, MODES, sleep, Stack, startStack, Stream, useStack, withStack } from "./harness";

const PAYLOADS = [
  "123",
  "héllo wörld ☃ 😀 中文",
  'say "hi" \\ back\\slash /slash',
  "line1\nline2\nline3",
  "  leading spaces and: a colon",
  "trailing newline\n",
  "",
  '{"already":"json","n":[1,2,3]}',
];

describe.each(MODES)("%s mode", (mode) => {
  const stack = useStack({ settings: { mode, heartbeatSeconds: "0.3", retryAfterSeconds: "1" } });

  test("EventSource receives messages in order and byte-exact", async () => {
    const client = await new SseClient(`${stack.base}/sse?key=exact`).opened();
    for (const payload of PAYLOADS) {
      await stack.client.publish("exact", payload);
    }
    expect(await client.waitFor(() => client.messages().length >= PAYLOADS.length)).toBe(true);
    expect(client.messages().map((e) => e.data)).toEqual(PAYLOADS);
    client.close();
  });

  test("CR and CRLF arrive as LF (SSE has no escape); format=object keeps every byte", async () => {
    const raw = await new SseClient(`${stack.base}/sse?key=crlf`).opened();
    const object = await new SseClient(`${stack.base}/sse?key=crlf&format=object`).opened();
    const payload = "a\r\nb\rc\nd";
    await stack.client.publish("crlf", payload);
    expect(await raw.waitFor(() => raw.messages().length === 1 && object.messages().length === 1)).toBe(true);
    expect(raw.messages()[0].data).toBe("a\nb\nc\nd");
    expect(JSON.parse(object.messages()[0].data)).toEqual({ type: "message", channel: "crlf", data: payload });
    raw.close();
    object.close();
  });

  test("several channels on one stream; format=object tags each message with its channel", async () => {
    const client = await new SseClient(`${stack.base}/sse?key=s1,s2,s3&format=object`).opened();
    await stack.client.publish("s2", "to 2");
    await stack.client.publish("s1", "to 1");
    await stack.client.publish("elsewhere", "not here");
    await stack.client.publish("s3", "to 3");
    expect(await client.waitFor(() => client.messages().length >= 3)).toBe(true);
    expect(client.messages().map((e) => JSON.parse(e.data) as unknown)).toEqual([
      { type: "message", channel: "s2", data: "to 2" },
      { type: "message", channel: "s1", data: "to 1" },
      { type: "message", channel: "s3", data: "to 3" },
    ]);
    client.close();
  });

  test("the wire format: headers, retry first, comment heartbeats when idle", async () => {
    const stream = await new Stream(`${stack.base}/sse?key=wire`).open();
    expect(stream.status).toBe(200);
    expect(stream.headers["content-type"]).toBe("text/event-stream; charset=utf-8");
    expect(stream.headers["cache-control"]).toBe("no-cache, no-store");
    await sleep(1000);
    await stack.client.publish("wire", "x\ny");
    expect(await eventually(() => stream.text().includes("data: x\ndata: y\n\n"))).toBe(true);
    const text = stream.text();
    expect(text.startsWith("retry: 1000\n\n:\n\n:\n\n")).toBe(true);
    expect(text.endsWith(":\n\ndata: x\ndata: y\n\n")).toBe(true);
    stream.close();
  });

  test("/sub with Accept: text/event-stream answers SSE", async () => {
    const stream = await new Stream(`${stack.base}/sub?key=accept`, { Accept: "text/event-stream" }).open();
    expect(stream.headers["content-type"]).toBe("text/event-stream; charset=utf-8");
    await stack.client.publish("accept", "via /sub");
    expect(await eventually(() => stream.text().includes("data: via /sub\n\n"))).toBe(true);
    stream.close();
  });

  test("200 EventSource clients all receive every message", async () => {
    const clients = await Promise.all(Array.from({ length: 200 }, () => new SseClient(`${stack.base}/sse?key=crowd`).opened(1, 10000)));
    for (let i = 0; i < 5; i++) {
      await stack.client.publish("crowd", `m${i}`);
    }
    expect(await eventually(() => clients.every((c) => c.messages().length >= 5), 10000)).toBe(true);
    for (const client of clients) {
      expect(client.messages().map((e) => e.data)).toEqual(["m0", "m1", "m2", "m3", "m4"]);
      client.close();
    }
  });

  describe("bad input gets a 400 with a JSON error, and EventSource gives up", () => {
    test.each([
      ["no key", "/sse", "no channel given"],
      ["invalid name", "/sse?key=a%20b", "invalid channel name at position 1"],
      ["too many channels", `/sse?key=${Array.from({ length: 17 }, (_, i) => `c${i}`).join(",")}`, "too many channels"],
      ["bad format", "/sse?key=a&format=xml", 'invalid format "xml": use raw, object or array'],
    ])("%s", async (_name, path, message) => {
      const answer = await fetchText(`${stack.base}${path}`);
      expect(answer.status).toBe(400);
      expect((JSON.parse(answer.body) as { error: string }).error).toContain(message);
      const client = new SseClient(`${stack.base}${path}`);
      expect(await client.waitFor(() => client.source.readyState === client.source.CLOSED)).toBe(true);
      expect(client.failures).toEqual([400]);
    });
  });
});

describe.each(MODES)("%s mode: reload", (mode) => {
  test("an error event asks to reconnect, and EventSource comes back to the new workers", async () => {
    await withStack({ settings: { mode, retryAfterSeconds: "1" } }, async (stack) => {
      const client = await new SseClient(`${stack.base}/sse?key=reload`).opened();
      await stack.client.publish("reload", "before");
      expect(await client.waitFor(() => client.messages().length === 1)).toBe(true);
      stack.gateway.reload();
      expect(await client.waitFor(() => client.events.some((e) => e.type === "error"), 10000)).toBe(true);
      expect(JSON.parse(client.events.find((e) => e.type === "error")!.data)).toEqual({ error: "server restart", reconnect: true });
      await client.opened(2, 10000);
      const seen = await eventually(
        async () => {
          await stack.client.publish("reload", "after");
          return client.messages().some((e) => e.data === "after");
        },
        5000,
        200,
      );
      expect(seen).toBe(true);
      client.close();
      expect(luaErrors(stack.errorLog())).toEqual([]);
    });
  });
});

describe("CORS", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ settings: { corsOrigins: "http://app.test,http://other.test:8000", corsCredentials: "true" } });
  });
  afterAll(async () => {
    await stack.stop();
  });

  test("an allowed origin gets its origin and credentials back, on streams and errors", async () => {
    const stream = await new Stream(`${stack.base}/sse?key=cors`, { Origin: "http://app.test" }).open();
    expect(stream.headers["access-control-allow-origin"]).toBe("http://app.test");
    expect(stream.headers["access-control-allow-credentials"]).toBe("true");
    expect(stream.headers.vary).toBe("Origin");
    stream.close();
    const error = await fetchText(`${stack.base}/sse`, { headers: { Origin: "http://other.test:8000" } });
    expect(error.status).toBe(400);
    expect(error.headers["access-control-allow-origin"]).toBe("http://other.test:8000");
  });

  test("another origin gets no CORS headers", async () => {
    const answer = await fetchText(`${stack.base}/lp?key=cors&timeout=0`, { headers: { Origin: "http://evil.test" } });
    expect(answer.status).toBe(200);
    expect(answer.headers["access-control-allow-origin"]).toBeUndefined();
  });

  test("a preflight is answered with 204 and what the location accepts", async () => {
    const answer = await fetchText(`${stack.base}/pub?channel=cors`, {
      method: "OPTIONS",
      headers: { Origin: "http://app.test", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type" },
    });
    expect(answer.status).toBe(204);
    expect(answer.headers["access-control-allow-origin"]).toBe("http://app.test");
    expect(answer.headers["access-control-allow-methods"]).toBe("POST, OPTIONS");
    expect(answer.headers["access-control-allow-headers"]).toBe("content-type");
    expect(answer.headers["access-control-max-age"]).toBe("600");
    const sse = await fetchText(`${stack.base}/sse?key=a`, {
      method: "OPTIONS",
      headers: { Origin: "http://app.test", "Access-Control-Request-Headers": "last-event-id" },
    });
    expect(sse.status).toBe(204);
    expect(sse.headers["access-control-allow-methods"]).toBe("GET, OPTIONS");
    expect(sse.headers["access-control-allow-headers"]).toBe("last-event-id");
  });

  test("without corsOrigins there are no CORS headers", async () => {
    const plain = await startStack({ settings: { workers: "1" } });
    try {
      const answer = await fetchText(`${plain.base}/lp?key=x&timeout=0`, { headers: { Origin: "http://app.test" } });
      expect(answer.headers["access-control-allow-origin"]).toBeUndefined();
      expect(answer.headers.vary).toBeUndefined();
    } finally {
      await plain.stop();
    }
  });
});
