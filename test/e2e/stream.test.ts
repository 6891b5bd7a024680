// /sub and /pub end to end, in every subscription mode: real nginx, real Redis, real clients.

import { curl, eventually, fetchText, gatewayRedisClients, MODES, numsub, sleep, Stream, useStack } from "./harness";

const PAYLOADS = [
  "123",
  "héllo wörld ☃ 😀 中文",
  'say "hi" \\ back\\slash /slash',
  "line1\nline2\r\nline3",
  "tab\tcontrol\u0001\u001f del\u007f",
  "",
  '{"already":"json","n":[1,2,3]}',
];

describe.each(MODES)("%s mode", (mode) => {
  const stack = useStack({ settings: { mode, heartbeatSeconds: "0.3" } });

  test("messages arrive in order and byte-exact, object lines by default", async () => {
    const stream = await new Stream(`${stack.base}/sub?key=exact`).open();
    expect(stream.status).toBe(200);
    expect(stream.headers["content-type"]).toBe("application/x-ndjson; charset=utf-8");
    expect(stream.headers["transfer-encoding"]).toBe("chunked");
    for (const payload of PAYLOADS) {
      await stack.client.publish("exact", payload);
    }
    const messages = await stream.waitForMessages(PAYLOADS.length);
    expect(messages).toEqual(PAYLOADS.map((data) => ({ type: "message", channel: "exact", data })));
    // byte for byte: the first line exactly as documented
    expect(stream.rawLines().find((line) => line.length > 0)).toBe('{"type":"message","channel":"exact","data":"123"}');
    stream.close();
  });

  test("a 1 MiB message arrives whole", async () => {
    const stream = await new Stream(`${stack.base}/sub?key=big`).open();
    const big = "é".repeat(512 * 1024); // 1 MiB of two-byte characters
    await stack.client.publish("big", big);
    const [message] = (await stream.waitForMessages(1, 10000)) as Array<{ data: string }>;
    expect(Buffer.byteLength(message.data)).toBe(1024 * 1024);
    expect(message.data === big).toBe(true);
    stream.close();
  });

  test("format=array keeps the original line shape", async () => {
    const stream = await new Stream(`${stack.base}/sub?key=legacy&format=array`).open();
    await stack.client.publish("legacy", "123");
    await stack.client.publish("legacy", 'a "quoted"\nline');
    await stream.waitForMessages(2);
    expect(stream.rawLines().filter((line) => line.length > 0)).toEqual(['["message","legacy","123"]', '["message","legacy","a \\"quoted\\"\\nline"]']);
    stream.close();
  });

  test("streams of both formats on one channel each get their own shape of every message", async () => {
    // each worker reuses the line it built last for the next subscriber: format is part of the key
    const streams = await Promise.all(
      Array.from({ length: 6 }, (_, i) => new Stream(`${stack.base}/sub?key=mixed${i % 2 === 0 ? "" : "&format=array"}`).open()),
    );
    await stack.client.publish("mixed", "one");
    await stack.client.publish("mixed", "two");
    for (const [i, stream] of streams.entries()) {
      await stream.waitForMessages(2);
      const lines = stream.rawLines().filter((line) => line.length > 0);
      expect(lines).toEqual(
        i % 2 === 0
          ? ['{"type":"message","channel":"mixed","data":"one"}', '{"type":"message","channel":"mixed","data":"two"}']
          : ['["message","mixed","one"]', '["message","mixed","two"]'],
      );
      stream.close();
    }
  });

  test("curl receives a published message at once", async () => {
    const run = curl(["-N", "--max-time", "5", `${stack.base}/sub?key=curl`]);
    // publish until curl's stream shows it: the first one may come before curl has connected
    const seen = await eventually(
      async () => {
        await stack.client.publish("curl", "from redis-cli");
        return run.current().includes('{"type":"message","channel":"curl","data":"from redis-cli"}\n');
      },
      4000,
      100,
    );
    expect(seen).toBe(true);
    run.process.kill();
    await run.output;
  });

  test("several channels on one stream, each message tagged with its channel", async () => {
    const stream = await new Stream(`${stack.base}/sub?key=a1,b1,c1`).open();
    await stack.client.publish("b1", "to b");
    await stack.client.publish("a1", "to a");
    await stack.client.publish("zz", "to nobody here");
    await stack.client.publish("c1", "to c");
    const messages = await stream.waitForMessages(3);
    expect(messages).toEqual([
      { type: "message", channel: "b1", data: "to b" },
      { type: "message", channel: "a1", data: "to a" },
      { type: "message", channel: "c1", data: "to c" },
    ]);
    stream.close();
  });

  test("200 concurrent subscribers all receive every message", async () => {
    const streams = await Promise.all(Array.from({ length: 200 }, () => new Stream(`${stack.base}/sub?key=crowd`).open()));
    expect(streams.every((s) => s.status === 200)).toBe(true);
    for (let i = 0; i < 5; i++) {
      await stack.client.publish("crowd", `m${i}`);
    }
    const expected = [0, 1, 2, 3, 4].map((i) => ({ type: "message", channel: "crowd", data: `m${i}` }));
    expect(await eventually(() => streams.every((s) => s.messages().length >= 5), 10000)).toBe(true);
    for (const stream of streams) {
      expect(stream.messages()).toEqual(expected);
      stream.close();
    }
  });

  test("a client that goes away frees its Redis connection", async () => {
    await eventually(async () => (await gatewayRedisClients(stack.client)).filter((c) => c.includes("cmd=subscribe")).length === 0 || mode === "shared");
    const before = (await gatewayRedisClients(stack.client)).length;
    const streams = await Promise.all(Array.from({ length: 20 }, (_, i) => new Stream(`${stack.base}/sub?key=gone${i}`).open()));
    if (mode === "direct") {
      expect((await gatewayRedisClients(stack.client)).length).toBe(before + 20);
    }
    streams.forEach((s) => s.close());
    expect(await eventually(async () => (await gatewayRedisClients(stack.client)).length <= before, 3000)).toBe(true);
  });

  test.each([
    ["chunked", "/sub"],
    ["SSE", "/sse"],
  ])("a %s client that goes away is unsubscribed within a second, and its channel delivers to those who stay", async (_name, path) => {
    const channel = `left-${path.slice(1)}`;
    const leaving = await Promise.all(Array.from({ length: 10 }, () => new Stream(`${stack.base}${path}?key=${channel}`).open()));
    const staying = await new Stream(`${stack.base}/sub?key=${channel}`).open();
    const subscribed = await numsub(stack.client, channel);
    if (mode === "shared") {
      expect(subscribed).toBeGreaterThanOrEqual(1); // one subscription per worker holding streams of it
      expect(subscribed).toBeLessThanOrEqual((await stack.status()).workers.length);
    } else {
      expect(subscribed).toBe(11);
    }
    leaving.forEach((s) => s.close());
    if (mode === "direct") {
      expect(await eventually(async () => (await numsub(stack.client, channel)) === 1, 1000, 20)).toBe(true);
    }
    staying.close();
    expect(await eventually(async () => (await numsub(stack.client, channel)) === 0, 1000, 20)).toBe(true);
    const again = await new Stream(`${stack.base}/sub?key=${channel}`).open();
    await stack.client.publish(channel, "after");
    expect(await eventually(() => again.messages().length === 1, 3000)).toBe(true);
    again.close();
  });

  test("an idle stream sends blank heartbeat lines", async () => {
    const stream = await new Stream(`${stack.base}/sub?key=idle`).open();
    await sleep(1000);
    const lines = stream.rawLines();
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines.every((line) => line === "")).toBe(true);
    stream.close();
  });

  describe("bad input gets a clear JSON error", () => {
    test.each([
      ["no key", "/sub", 400, "no channel given"],
      ["empty key", "/sub?key=", 400, "no channel given"],
      ["bare key", "/sub?key", 400, "no channel given"],
      ["invalid name", "/sub?key=a%20b", 400, "invalid channel name at position 1"],
      ["invalid second name", "/sub?key=ok,b%C3%A9", 400, "invalid channel name at position 2"],
      ["empty item", "/sub?key=a,,b", 400, "invalid channel name at position 2"],
      ["too long", `/sub?key=${"x".repeat(129)}`, 400, "invalid channel name"],
      ["too many channels", `/sub?key=${Array.from({ length: 17 }, (_, i) => `c${i}`).join(",")}`, 400, "too many channels: 17 given, at most 16"],
      ["bad format", "/sub?key=a&format=xml", 400, 'invalid format "xml"'],
      ["unknown path", "/nope", 404, "not found"],
    ])("%s", async (_name, path, status, message) => {
      const answer = await fetchText(`${stack.base}${path}`);
      expect(answer.status).toBe(status);
      expect(answer.headers["content-type"]).toMatch(/^application\/json/);
      expect((JSON.parse(answer.body) as { error: string }).error).toContain(message);
    });
  });

  describe("POST /pub", () => {
    test("publishes the body durably and answers its id and how many Redis subscriptions got it", async () => {
      const stream = await new Stream(`${stack.base}/sub?key=posted`).open();
      const payload = 'posted "body"\nwith ☃';
      const answer = await fetchText(`${stack.base}/pub?channel=posted`, { method: "POST", body: payload });
      expect(answer.status).toBe(200);
      const { id, ...rest } = JSON.parse(answer.body) as { id: string };
      expect(rest).toEqual({ channel: "posted", subscribers: 1 });
      expect(id).toMatch(/^\d+-\d+$/);
      // the line carries the id, before the data, byte for byte
      await stream.waitForMessages(1);
      expect(stream.rawLines().filter((l) => l.length > 0)).toEqual([`{"type":"message","channel":"posted","id":"${id}","data":${JSON.stringify(payload)}}`]);
      stream.close();
    });

    test("a message at the size limit is accepted, one byte more is 413", async () => {
      const limit = stack.settings.maxMessageBytes;
      const ok = await fetchText(`${stack.base}/pub?channel=sized`, { method: "POST", body: Buffer.alloc(limit, 97) });
      expect(ok.status).toBe(200);
      const tooBig = await fetchText(`${stack.base}/pub?channel=sized`, { method: "POST", body: Buffer.alloc(limit + 1, 97) });
      expect(tooBig.status).toBe(413);
      expect((JSON.parse(tooBig.body) as { error: string }).error).toContain(`the limit is ${limit} bytes`);
    });

    test("a chunked body over the limit is 413 too", async () => {
      const limit = stack.settings.maxMessageBytes;
      const answer = await fetchText(`${stack.base}/pub?channel=sized`, {
        method: "POST",
        body: Buffer.alloc(limit + 10, 97),
        headers: { "Transfer-Encoding": "chunked" },
      });
      expect(answer.status).toBe(413);
      expect((JSON.parse(answer.body) as { error: string }).error).toContain("message too large");
    });

    test.each([
      ["GET", "/pub?channel=x", 405, "use POST"],
      ["POST", "/pub", 400, "no channel given"],
      ["POST", "/pub?channel=bad%20name", 400, "invalid channel name"],
    ])("%s %s -> %d", async (method, path, status, message) => {
      const answer = await fetchText(`${stack.base}${path}`, { method, body: method === "POST" ? "x" : undefined });
      expect(answer.status).toBe(status);
      expect((JSON.parse(answer.body) as { error: string }).error).toContain(message);
    });
  });
});
