// Long-poll end to end, in every subscription mode: real nginx, real Redis, curl as the client.

import { spawn } from "node:child_process";
import { curl, eventually, fetchText, gatewayRedisClients, luaErrors, MODES, sleep, Stack, useStack, withStack } from "./harness";

interface Batch {
  messages: Array<{ channel: string; data: string; id?: string; event?: string }>;
  cursor: string;
  notices?: Array<{ notice: string; message: string }>;
}

/** A compound cursor: one channel=<ms>-<seq> per channel, in request order. */
function cursorOf(...channels: string[]): RegExp {
  return new RegExp(`^${channels.map((c) => `${c}=\\d+-\\d+`).join(",")}$`);
}

/** One long-poll with curl: the status line, the elapsed time and the parsed batch. */
async function longPoll(url: string, maxSeconds = 30): Promise<{ status: number; ms: number; batch: Batch; headers: string }> {
  const started = Date.now();
  const child = spawn("curl", ["-sS", "-i", "--max-time", `${maxSeconds}`, url], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  let errors = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
  child.stderr.on("data", (chunk: Buffer) => (errors += chunk.toString("utf8")));
  const code = await new Promise<number | null>((done) => child.on("close", done));
  if (code !== 0) {
    throw new Error(`curl ${url} exited with ${code}: ${errors}`);
  }
  const split = output.indexOf("\r\n\r\n");
  const headers = output.substring(0, split);
  const status = Number(/^HTTP\/1\.1 (\d+)/.exec(headers)?.[1] ?? 0);
  return { status, ms: Date.now() - started, batch: JSON.parse(output.substring(split + 4)) as Batch, headers };
}

/** Publishes on Redis until `count` long-polls are parked (each poll is one subscriber). */
async function parked(stack: Stack, channel: string, count: number): Promise<void> {
  const ok = await eventually(async () => {
    const reply = (await stack.client.sendCommand(["PUBSUB", "NUMSUB", channel])) as Array<string | number>;
    if (stack.settings.mode === "direct") {
      return Number(reply[1]) >= count;
    }
    const status = await stack.status();
    return Number(reply[1]) >= 1 && status.totals.subscribers >= count;
  }, 10000);
  if (!ok) {
    throw new Error(`${count} polls did not park on ${channel}`);
  }
}

describe.each(MODES)("%s mode", (mode) => {
  const stack = useStack({ settings: { mode, longPollMaxSeconds: "25" } });

  test("returns as soon as a message is published, byte-exact in JSON", async () => {
    const payload = 'héllo ☃ 😀 "quoted"\nline2\r\nline3\ttab';
    const poll = longPoll(`${stack.base}/lp?key=lp1&timeout=20`);
    await parked(stack, "lp1", 1);
    const publishedAt = Date.now();
    await stack.client.publish("lp1", payload);
    const answer = await poll;
    expect(answer.status).toBe(200);
    expect(answer.headers).toMatch(/content-type: application\/json; charset=utf-8/i);
    expect(Date.now() - publishedAt).toBeLessThan(1000);
    expect(answer.batch).toEqual({ messages: [{ channel: "lp1", data: payload }], cursor: expect.stringMatching(cursorOf("lp1")) });
  });

  test("one batch holds everything queued at that moment, in order, from several channels", async () => {
    const poll = longPoll(`${stack.base}/lp?key=lpa,lpb&timeout=20`);
    await parked(stack, "lpb", 1);
    // One script publishes all four at once: they reach the gateway together.
    await stack.client.eval(
      "redis.call('PUBLISH','lpa','1') redis.call('PUBLISH','lpb','2') redis.call('PUBLISH','lpz','x') redis.call('PUBLISH','lpa','3') return 0",
      { keys: [], arguments: [] },
    );
    const answer = await poll;
    expect(answer.batch.messages).toEqual([
      { channel: "lpa", data: "1" },
      { channel: "lpb", data: "2" },
      { channel: "lpa", data: "3" },
    ]);
  });

  test("nothing falls between two polls: the next poll gives the cursor back and gets what came meanwhile", async () => {
    const publish = async (channel: string, data: string): Promise<string> => {
      const answer = await fetchText(`${stack.base}/pub?channel=${channel}`, { method: "POST", body: data });
      return (JSON.parse(answer.body) as { id: string }).id;
    };
    const first = longPoll(`${stack.base}/lp?key=ra,rb&timeout=20`);
    await parked(stack, "rb", 1);
    const id1 = await publish("ra", "one");
    const batch1 = (await first).batch;
    expect(batch1.messages).toEqual([{ channel: "ra", data: "one", id: id1 }]);
    expect(batch1.cursor).toMatch(new RegExp(`^ra=${id1},rb=\\d+-\\d+$`));
    // between two polls: durable messages on both channels, one with an event name
    const id2 = await publish("rb", "two ☃\n");
    // ids are per channel: published in the same millisecond, "three" would share two's id, and
    // equal ids go in channel order (ra first), not publish order
    await eventually(() => Date.now() > Number(id2.split("-")[0]), 1000, 1);
    const id3 = (JSON.parse((await fetchText(`${stack.base}/pub?channel=ra&event=chat`, { method: "POST", body: "three" })).body) as { id: string }).id;
    const second = await longPoll(`${stack.base}/lp?key=ra,rb&timeout=20&since=${encodeURIComponent(batch1.cursor)}`);
    expect(second.ms).toBeLessThan(1000);
    expect(second.batch.messages).toEqual([
      { channel: "rb", data: "two ☃\n", id: id2 },
      { channel: "ra", data: "three", id: id3, event: "chat" },
    ]);
    expect(second.batch.cursor).toBe(`ra=${id3},rb=${id2}`);
    // and from there on, nothing again until something new comes
    const third = await longPoll(`${stack.base}/lp?key=ra,rb&timeout=0.3&since=${encodeURIComponent(second.batch.cursor)}`);
    expect(third.batch).toEqual({ messages: [], cursor: second.batch.cursor });
  });

  test("at the timeout: 200 with an empty batch", async () => {
    const answer = await longPoll(`${stack.base}/lp?key=quiet&timeout=0.5`);
    expect(answer.status).toBe(200);
    expect(answer.batch).toEqual({ messages: [], cursor: expect.stringMatching(cursorOf("quiet")) });
    expect(answer.ms).toBeGreaterThanOrEqual(450);
    expect(answer.ms).toBeLessThan(2000);
  });

  test("200 parked polls all get the message; in shared mode they hold no Redis connection each", async () => {
    const before = (await gatewayRedisClients(stack.client)).length;
    let answered = 0;
    const polls = Array.from({ length: 200 }, () =>
      longPoll(`${stack.base}/lp?key=crowd&timeout=20`).then((answer) => {
        answered += 1;
        return answer;
      }),
    );
    await parked(stack, "crowd", 200);
    const during = (await gatewayRedisClients(stack.client)).length;
    if (mode === "shared") {
      expect(during).toBe(before);
    } else {
      expect(during).toBeGreaterThanOrEqual(before + 200);
    }
    // Publish until every poll has answered: a poll counted as parked a moment early gets the next.
    expect(
      await eventually(
        async () => {
          await stack.client.publish("crowd", "all");
          return answered === 200;
        },
        10000,
        200,
      ),
    ).toBe(true);
    for (const answer of await Promise.all(polls)) {
      expect(answer.batch.messages.length).toBeGreaterThanOrEqual(1);
      expect(answer.batch.messages.every((m) => m.channel === "crowd" && m.data === "all")).toBe(true);
    }
  });

  test("a poll that goes away releases its subscription", async () => {
    const run = curl([`${stack.base}/lp?key=abandoned&timeout=20`]);
    await parked(stack, "abandoned", 1);
    run.process.kill();
    await run.output;
    if (mode === "direct") {
      expect(
        await eventually(async () => {
          const reply = (await stack.client.sendCommand(["PUBSUB", "NUMSUB", "abandoned"])) as Array<string | number>;
          return Number(reply[1]) === 0;
        }),
      ).toBe(true);
    } else {
      expect(await eventually(async () => (await stack.status()).totals.subscribers === 0, 5000)).toBe(true);
    }
  });

  describe("bad input gets a 400 with a JSON error", () => {
    test.each([
      ["no key", "/lp", "no channel given"],
      ["invalid name", "/lp?key=a%20b", "invalid channel name at position 1"],
      ["too many channels", `/lp?key=${Array.from({ length: 17 }, (_, i) => `c${i}`).join(",")}`, "too many channels"],
      ["negative timeout", "/lp?key=a&timeout=-1", "invalid timeout: use seconds from 0 to 25"],
      ["timeout not a number", "/lp?key=a&timeout=soon", "invalid timeout"],
      ["empty timeout", "/lp?key=a&timeout=", "invalid timeout"],
    ])("%s", async (_name, path, message) => {
      const answer = await fetchText(`${stack.base}${path}`);
      expect(answer.status).toBe(400);
      expect((JSON.parse(answer.body) as { error: string }).error).toContain(message);
    });
  });
});

describe.each(MODES)("%s mode: longPollMaxSeconds", (mode) => {
  test("caps the timeout, and is the default", async () => {
    await withStack({ settings: { mode, longPollMaxSeconds: "1", workers: "1" } }, async (stack) => {
      const capped = await longPoll(`${stack.base}/lp?key=quiet&timeout=100`);
      expect(capped.batch.messages).toEqual([]);
      expect(capped.ms).toBeGreaterThanOrEqual(950);
      expect(capped.ms).toBeLessThan(3000);
      const byDefault = await longPoll(`${stack.base}/lp?key=quiet`);
      expect(byDefault.ms).toBeGreaterThanOrEqual(950);
      expect(byDefault.ms).toBeLessThan(3000);
    });
  });
});

describe.each(MODES)("%s mode: reload", (mode) => {
  test("parked polls answer at once with an empty batch, and the next poll works", async () => {
    await withStack({ settings: { mode } }, async (stack) => {
      const polls = Array.from({ length: 5 }, () => longPoll(`${stack.base}/lp?key=reload&timeout=60`));
      await parked(stack, "reload", 5);
      const reloadedAt = Date.now();
      stack.gateway.reload();
      const answers = await Promise.all(polls);
      expect(Date.now() - reloadedAt).toBeLessThan(3000);
      for (const answer of answers) {
        expect(answer.status).toBe(200);
        expect(answer.batch).toEqual({ messages: [], cursor: expect.stringMatching(cursorOf("reload")) });
      }
      await sleep(200);
      const next = longPoll(`${stack.base}/lp?key=reload&timeout=10`);
      await eventually(async () => {
        const reply = (await stack.client.sendCommand(["PUBSUB", "NUMSUB", "reload"])) as Array<string | number>;
        return Number(reply[1]) >= 1;
      });
      await stack.client.publish("reload", "after");
      expect((await next).batch.messages).toEqual([{ channel: "reload", data: "after" }]);
      expect(luaErrors(stack.errorLog())).toEqual([]);
    });
  });
});
