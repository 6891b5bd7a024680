// Delivery without loss: message ids, cursors, history, gaps, inboxes and read state, across
// disconnects, the subscribe handshake, nginx reloads and Redis restarts. In every mode.

import { publishDurable } from "../../sdk";
import { eventually, fetchText, luaErrors, MODES, sleep, Stack, Stream, useStack, withStack } from "./harness";

interface Line {
  type: string;
  channel?: string;
  id?: string;
  cursor?: string;
  data?: string;
  notice?: string;
  error?: string;
}

async function publish(stack: Stack, channel: string, data: string, extra = ""): Promise<string> {
  const answer = await fetchText(`${stack.base}/pub?channel=${channel}${extra}`, { method: "POST", body: data });
  expect(answer.status).toBe(200);
  return (JSON.parse(answer.body) as { id: string }).id;
}

function messages(stream: Stream): Line[] {
  return (stream.messages() as Line[]).filter((m) => m.type === "message");
}

/** Ids the channel's stream holds after `after` (what a resuming client must receive). */
async function keptAfter(stack: Stack, channel: string, after: string): Promise<string[]> {
  const entries = (await stack.client.sendCommand(["XRANGE", `pushgate:{${channel}}:stream`, `(${after}`, "+"])) as Array<[string, string[]]>;
  return entries.map(([id]) => id);
}

describe.each(MODES)("%s mode", (mode) => {
  const stack = useStack({ settings: { mode, history: "*=1000/86400,short:*=5/86400,aged:*=1000/1" } });

  test("one channel: disconnect, 100 published, reconnect with the cursor: exactly those 100, in order", async () => {
    const first = await new Stream(`${stack.base}/sub?key=r1`).open();
    await publish(stack, "r1", "before");
    const [seen] = messages(await first.waitForMessages(1).then(() => first));
    first.close();
    const ids: string[] = [];
    for (let i = 0; i < 100; i++) {
      ids.push(await publish(stack, "r1", `missed ${i}`));
    }
    for (const resume of [`?key=r1&since=${seen.id}`, `?key=r1&last_event_id=${seen.id}`]) {
      const again = await new Stream(`${stack.base}/sub${resume}`).open();
      await again.waitForMessages(100);
      await sleep(200); // nothing more may come
      expect(messages(again).map((m) => m.id)).toEqual(ids);
      expect(messages(again).map((m) => m.data)).toEqual(ids.map((_, i) => `missed ${i}`));
      again.close();
    }
    const header = await new Stream(`${stack.base}/sub?key=r1`, { "Last-Event-ID": ids[49] }).open();
    await header.waitForMessages(50);
    expect(messages(header).map((m) => m.id)).toEqual(ids.slice(50));
    header.close();
  });

  test("several channels: the compound cursor resumes each channel where it stopped", async () => {
    const first = await new Stream(`${stack.base}/sub?key=c1,c2`).open();
    await publish(stack, "c1", "a");
    await publish(stack, "c2", "b");
    await first.waitForMessages(2);
    const cursor = messages(first)[1].cursor!;
    expect(cursor).toMatch(/^c1=\d+-\d+,c2=\d+-\d+$/);
    first.close();
    const expected: string[] = [];
    for (let i = 0; i < 50; i++) {
      expected.push(await publish(stack, i % 2 === 0 ? "c1" : "c2", `x${i}`));
      expected.push(await publish(stack, i % 2 === 0 ? "c2" : "c1", `y${i}`));
    }
    const again = await new Stream(`${stack.base}/sub?key=c1,c2&since=${encodeURIComponent(cursor)}`).open();
    await again.waitForMessages(100);
    await sleep(200);
    expect(messages(again).map((m) => m.id)).toEqual(expected);
    again.close();
  });

  test("messages published during the subscribe handshake are neither lost nor doubled", async () => {
    const start = await publish(stack, "race", "start");
    let publishing = true;
    let published = 0;
    const publisher = (async () => {
      while (publishing && published < 2000) {
        await publish(stack, "race", `n${published++}`);
      }
    })();
    const clients: Stream[] = [];
    for (let i = 0; i < 50; i++) {
      clients.push(new Stream(`${stack.base}/sub?key=race&since=${start}`));
      await sleep(5);
    }
    await Promise.all(clients.map((c) => c.open()));
    await sleep(300);
    publishing = false;
    await publisher;
    const all = await keptAfter(stack, "race", start);
    expect(all.length).toBe(published);
    expect(await eventually(() => clients.every((c) => messages(c).length >= all.length), 10000)).toBe(true);
    for (const client of clients) {
      expect(messages(client).map((m) => m.id)).toEqual(all);
      client.close();
    }
  });

  test("since=oldest replays the kept history; backlog=N the last N", async () => {
    const ids = [await publish(stack, "hist", "1"), await publish(stack, "hist", "2"), await publish(stack, "hist", "3")];
    const oldest = await new Stream(`${stack.base}/sub?key=hist&since=oldest`).open();
    await oldest.waitForMessages(3);
    expect(messages(oldest).map((m) => m.id)).toEqual(ids);
    oldest.close();
    const lastTwo = await new Stream(`${stack.base}/sub?key=hist&backlog=2`).open();
    await lastTwo.waitForMessages(2);
    await sleep(100);
    expect(messages(lastTwo).map((m) => m.data)).toEqual(["2", "3"]);
    lastTwo.close();
  });

  test("a cursor older than the kept history gets a gap notice, then what is kept", async () => {
    const firstId = await publish(stack, "short:x", "0");
    const kept: string[] = [];
    for (let i = 1; i <= 10; i++) {
      kept.push(await publish(stack, "short:x", `${i}`));
    }
    const stream = await new Stream(`${stack.base}/sub?key=short:x&since=${firstId}`).open();
    await stream.waitForMessages(6);
    const [gap, ...rest] = stream.messages() as Line[];
    expect(gap).toMatchObject({ type: "notice", notice: "gap" });
    expect(rest.map((m) => m.id)).toEqual(kept.slice(5));
    stream.close();
    // resuming from within the kept history is no gap
    const fine = await new Stream(`${stack.base}/sub?key=short:x&since=${kept[6]}`).open();
    await fine.waitForMessages(3);
    expect((fine.messages() as Line[]).map((m) => m.type)).toEqual(["message", "message", "message"]);
    fine.close();
  });

  test("messages older than the history's age leave it: a cursor before them gets a gap, one at the newest of them none", async () => {
    // aged:* keeps messages 1 s: a publish removes those older than that from the stream
    const before = await publish(stack, "aged:x", "a");
    const lastGone = await publish(stack, "aged:x", "b");
    await sleep(600);
    const keptOne = await publish(stack, "aged:x", "c");
    await sleep(500);
    const keptTwo = await publish(stack, "aged:x", "d");
    expect(await keptAfter(stack, "aged:x", "0-0")).toEqual([keptOne, keptTwo]);
    const gapped = await new Stream(`${stack.base}/sub?key=aged:x&since=${before}`).open();
    await gapped.waitForMessages(3);
    expect((gapped.messages() as Line[]).map((m) => m.notice ?? m.id)).toEqual(["gap", keptOne, keptTwo]);
    gapped.close();
    const whole = await new Stream(`${stack.base}/sub?key=aged:x&since=${lastGone}`).open();
    await whole.waitForMessages(2);
    await sleep(100);
    expect((whole.messages() as Line[]).map((m) => m.notice ?? m.id)).toEqual([keptOne, keptTwo]);
    whole.close();
  });

  test("a channel whose whole history expired and is published to again: a cursor from before gets a gap", async () => {
    const first = await publish(stack, "aged:y", "a");
    await publish(stack, "aged:y", "b");
    await sleep(1200); // the stream key expires with the age; the meta outlives it
    expect(await stack.client.sendCommand(["EXISTS", "pushgate:{aged:y}:stream"])).toBe(0);
    const fresh = await publish(stack, "aged:y", "c");
    const stream = await new Stream(`${stack.base}/sub?key=aged:y&since=${first}`).open();
    await stream.waitForMessages(2);
    await sleep(100);
    expect((stream.messages() as Line[]).map((m) => m.notice ?? m.id)).toEqual(["gap", fresh]);
    stream.close();
  });

  test.each([
    ["garbage", "since=yesterday", "invalid cursor"],
    ["bad id", "since=17-x", "invalid cursor"],
    ["foreign channel", "since=zz%3D1-0", "names a channel this request does not subscribe to"],
    ["bad backlog", "backlog=0", "invalid backlog"],
  ])("malformed cursor (%s) is a 400", async (_name, query, message) => {
    const answer = await fetchText(`${stack.base}/sub?key=r1&${query}`);
    expect(answer.status).toBe(400);
    expect((JSON.parse(answer.body) as { error: string }).error).toContain(message);
  });

  test("any backend can publish durably by calling the Redis function by name (FCALL)", async () => {
    const stream = await new Stream(`${stack.base}/sub?key=fcall`).open();
    // the gateway loads the functions into Redis when it connects; no /pub needed first
    const reply = (await stack.client.sendCommand([
      "FCALL",
      "pushgate_publish",
      "3",
      "pushgate:{fcall}:stream",
      "pushgate:{fcall}:meta",
      "",
      "fcall",
      "from any language",
      "note",
      "1000",
      "86400000",
      "0",
    ])) as [string, number, number];
    expect(reply[0]).toMatch(/^\d+-\d+$/);
    expect(reply[2]).toBe(0);
    await stream.waitForMessages(1);
    expect(stream.messages()).toEqual([{ type: "message", channel: "fcall", id: reply[0], event: "note", data: "from any language" }]);
    stream.close();
  });

  test("the SDK publishes durably over Redis: kept, with an id, delivered live", async () => {
    const stream = await new Stream(`${stack.base}/sub?key=sdk`).open();
    const first = await publishDurable(stack.client, "sdk", "from the sdk ☃", { event: "note" });
    expect(first).toMatchObject({ subscribers: 1, duplicate: false });
    const again = await publishDurable(stack.client, "sdk", "retry", { idempotencyKey: "job-1" });
    expect(await publishDurable(stack.client, "sdk", "retry", { idempotencyKey: "job-1" })).toEqual({ ...again, subscribers: 0, duplicate: true });
    await stream.waitForMessages(2);
    expect(stream.messages()).toEqual([
      { type: "message", channel: "sdk", id: first.id, event: "note", data: "from the sdk ☃" },
      { type: "message", channel: "sdk", id: again.id, data: "retry" },
    ]);
    expect(await keptAfter(stack, "sdk", "0-0")).toEqual([first.id, again.id]);
    await expect(publishDurable(stack.client, "bad name", "x")).rejects.toThrow("invalid channel name");
    stream.close();
  });

  test("an idempotency key stores a retried publish once", async () => {
    const a = await fetchText(`${stack.base}/pub?channel=idem`, { method: "POST", body: "once", headers: { "Idempotency-Key": "order-42" } });
    const b = await fetchText(`${stack.base}/pub?channel=idem`, { method: "POST", body: "once", headers: { "Idempotency-Key": "order-42" } });
    expect(JSON.parse(b.body)).toEqual({ ...JSON.parse(a.body), subscribers: 0, duplicate: true });
    expect(await keptAfter(stack, "idem", "0-0")).toEqual([(JSON.parse(a.body) as { id: string }).id]);
  });

  test("inbox: kept while offline, replayed on connect; after an ack only what follows; broadcast stored once", async () => {
    const user = `u${mode}`;
    const inbox = `user:${user}`;
    const sent = [await publish(stack, inbox, "hello"), await publish(stack, inbox, "are you there?")];
    const broadcast = await publish(stack, "broadcast", "to everyone");
    // no cursor: the inbox replays what is unread (all of it, nothing acknowledged yet)
    const phone = await new Stream(`${stack.base}/sub?key=${inbox},broadcast&user=${user}`).open();
    await phone.waitForMessages(2);
    await sleep(100);
    expect(messages(phone).map((m) => m.id)).toEqual(sent);
    phone.close();
    let unread = JSON.parse((await fetchText(`${stack.base}/unread?key=${inbox}&user=${user}`)).body) as { unread: Record<string, number> };
    expect(unread.unread[inbox]).toBe(2);
    const ack = await fetchText(`${stack.base}/ack?channel=${inbox}&id=${sent[0]}&user=${user}`, { method: "POST" });
    expect(JSON.parse(ack.body)).toEqual({ channel: inbox, read: sent[0] });
    // an older ack does not move the position back
    await fetchText(`${stack.base}/ack?channel=${inbox}&id=1-0&user=${user}`, { method: "POST" });
    unread = JSON.parse((await fetchText(`${stack.base}/unread?key=${inbox}&user=${user}`)).body) as { unread: Record<string, number> };
    expect(unread.unread[inbox]).toBe(1);
    // acknowledging the broadcast up to its id covers it for this user only
    await fetchText(`${stack.base}/ack?channel=broadcast&id=${broadcast}&user=${user}`, { method: "POST" });
    const laptop = await new Stream(`${stack.base}/sub?key=${inbox}&user=${user}`).open();
    await laptop.waitForMessages(1);
    await sleep(100);
    expect(messages(laptop).map((m) => m.id)).toEqual([sent[1]]);
    laptop.close();
    // a broadcast is one stream, however many users read it; their read positions are fields of
    // one hash in the channel's slot
    const keys = (await stack.client.sendCommand(["KEYS", "pushgate:{broadcast}*"])) as string[];
    const messageKeys = keys.filter((key) => !/:p(conn|user)(:|$)/.test(key)); // presence keys count connections, not messages
    expect(messageKeys.sort()).toEqual(["pushgate:{broadcast}:meta", "pushgate:{broadcast}:read", "pushgate:{broadcast}:stream"]);
    expect(await stack.client.sendCommand(["HGET", "pushgate:{broadcast}:read", user])).toBe(broadcast);
    expect(await keptAfter(stack, "broadcast", "0-0")).toEqual([broadcast]);
  });

  test("an ack of an id newer than the channel's last message is refused with a 400 naming it; older ids move nothing", async () => {
    const user = `future${mode}`;
    const inbox = `user:${user}`;
    const ack = (channel: string, id: string) => fetchText(`${stack.base}/ack?channel=${channel}&id=${id}&user=${user}`, { method: "POST" });
    // a channel with nothing published: 1-0 is fine (nothing to read), an id from the future is not
    expect(JSON.parse((await ack("never:published", "1-0")).body)).toEqual({ channel: "never:published", read: "1-0" });
    const future = `${Date.now() + 3_600_000}-0`;
    const empty = await ack("never:published", future);
    expect(empty.status).toBe(400);
    expect(JSON.parse(empty.body)).toEqual({ error: `id ${future} is newer than any message of never:published` });
    const last = await publish(stack, inbox, "the last one");
    const newer = `${last.split("-")[0]}-${Number(last.split("-")[1]) + 1}`;
    const refused = await ack(inbox, newer);
    expect(refused.status).toBe(400);
    expect(JSON.parse(refused.body)).toEqual({ error: `id ${newer} is newer than the last message of ${inbox} (${last})` });
    // nothing moved: the message is still unread, and its own id is accepted
    const unread = JSON.parse((await fetchText(`${stack.base}/unread?key=${inbox}&user=${user}`)).body) as { unread: Record<string, number> };
    expect(unread.unread[inbox]).toBe(1);
    expect(JSON.parse((await ack(inbox, last)).body)).toEqual({ channel: inbox, read: last });
    expect(luaErrors(stack.errorLog())).toEqual([]);
  });
});

describe.each(MODES)("%s mode, restarts", (mode) => {
  test("nginx reload while streams are open: clients reconnect with their cursors and lose nothing", async () => {
    await withStack({ settings: { mode } }, async (stack) => {
      const received: string[] = [];
      let cursor: string | undefined;
      let stopping = false;
      const client = (async () => {
        while (!stopping) {
          const stream = await new Stream(`${stack.base}/sub?key=reload${cursor !== undefined ? `&since=${cursor}` : ""}`).open().catch(() => undefined);
          if (stream === undefined || stream.status !== 200) {
            await sleep(50);
            continue;
          }
          await Promise.race([stream.done, eventually(() => stopping, 30000)]);
          for (const m of messages(stream)) {
            received.push(m.id!);
            cursor = m.id;
          }
          stream.close();
        }
      })();
      await sleep(300);
      const published: string[] = [];
      for (let i = 0; i < 150; i++) {
        published.push(await publish(stack, "reload", `m${i}`));
        if (i === 50 || i === 100) {
          stack.gateway.reload();
        }
      }
      await sleep(1500);
      stopping = true;
      await client;
      expect(received).toEqual(published);
      expect(luaErrors(stack.errorLog())).toEqual([]);
    });
  });

  test("Redis restarted with append-only persistence: reconnecting with the cursor gives every durable message", async () => {
    await withStack({ settings: { mode }, redisArgs: ["--appendonly", "yes", "--appendfsync", "always"] }, async (stack) => {
      const before: string[] = [];
      for (let i = 0; i < 10; i++) {
        before.push(await publish(stack, "aof", `before ${i}`));
      }
      const stream = await new Stream(`${stack.base}/sub?key=aof&since=${before[4]}`).open();
      await stream.waitForMessages(5);
      const cursor = messages(stream)[4].id!;
      await stack.client.disconnect();
      await stack.restartRedis(200);
      await stack.client.connect();
      const after: string[] = [];
      for (let i = 0; i < 10; i++) {
        let id: string | undefined;
        await eventually(
          async () => {
            const answer = await fetchText(`${stack.base}/pub?channel=aof`, { method: "POST", body: `after ${i}` });
            id = answer.status === 200 ? (JSON.parse(answer.body) as { id: string }).id : undefined;
            return id !== undefined;
          },
          10000,
          100,
        );
        after.push(id!);
      }
      stream.close();
      const again = await new Stream(`${stack.base}/sub?key=aof&since=${cursor}`).open();
      await again.waitForMessages(10);
      await sleep(200);
      expect(messages(again).map((m) => m.id)).toEqual(after);
      const all = await new Stream(`${stack.base}/sub?key=aof&since=oldest`).open();
      await all.waitForMessages(20);
      expect(messages(all).map((m) => m.id)).toEqual([...before, ...after]);
      again.close();
      all.close();
    });
  });
});
