// The client library in headless Chromium: a page imports /client.js from the gateway, subscribes
// over each transport (and auto with its WebSocket refused), and receives durable messages once
// and in order across a Redis restart.

import type { Page } from "playwright-core";
import { Browser, launchChromium } from "./clients";
import { Stack, eventually, fetchText, luaErrors, sleep, startStack } from "./harness";

interface PageSubscription {
  transport: string;
  messages: Array<{ channel: string; id: string | null; data: string; event: string | null }>;
  states: string[];
  notices: string[];
  errors: string[];
}

/** The page's subscriptions, as recorded by the script in subscribeAll. */
function recorded(page: Page): Promise<Record<string, PageSubscription>> {
  return page.evaluate(
    `Object.fromEntries(Object.entries(window.subs).map(([name, r]) => [name, {
      transport: r.sub.transport, messages: r.messages, states: r.states, notices: r.notices, errors: r.errors }]))`,
  ) as Promise<Record<string, PageSubscription>>;
}

async function publish(stack: Stack, channel: string, data: string, key: string, event?: string): Promise<string> {
  for (;;) {
    const query = event === undefined ? "" : `&event=${event}`;
    const answer = await fetchText(`${stack.base}/pub?channel=${channel}${query}`, { method: "POST", body: data, headers: { "Idempotency-Key": key } }).catch(
      () => undefined,
    );
    if (answer?.status === 200) {
      return (JSON.parse(answer.body) as { id: string }).id;
    }
    await sleep(50);
  }
}

describe("client library in Chromium", () => {
  jest.setTimeout(60000);
  let stack: Stack;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    stack = await startStack({ settings: { retryAfterSeconds: "1" } });
    browser = await launchChromium();
    page = await browser.context.newPage();
    await page.goto(`${stack.base}/demo/`);
  });

  afterAll(async () => {
    await browser?.close();
    expect(luaErrors(stack.errorLog())).toEqual([]);
    await stack.stop();
  });

  test("GET /client.js is an ES module the page imports", async () => {
    const answer = await fetchText(`${stack.base}/client.js`);
    expect(answer.status).toBe(200);
    expect(answer.headers["content-type"]).toBe("text/javascript");
    expect(answer.body).toContain("export function subscribe");
    expect(await page.evaluate(`import("/client.js").then((module) => typeof module.subscribe)`)).toBe("function");
  });

  test("each transport, and auto with WebSocket refused, receives in order across a Redis restart", async () => {
    await page.evaluate(`(async () => {
      const { subscribe } = await import("/client.js");
      const blocked = "ws://" + location.host + "/no-websocket-here";
      const options = {
        ws: { transport: "ws" },
        sse: { transport: "sse" },
        longpoll: { transport: "longpoll", longPollSeconds: 5 },
        auto: { wsUrl: blocked },
      };
      window.subs = {};
      for (const [name, extra] of Object.entries(options)) {
        const sub = subscribe(["page", "other"], { reconnectMs: 200, maxReconnectMs: 2000, ...extra });
        const r = { sub, messages: [], states: [], notices: [], errors: [] };
        sub.on("message", (m) => r.messages.push({ channel: m.channel, id: m.id ?? null, data: m.data, event: m.event ?? null }));
        sub.on("state", (s) => r.states.push(s));
        sub.on("notice", (n) => r.notices.push(n.notice));
        sub.on("error", (e) => r.errors.push(e.message));
        window.subs[name] = r;
      }
    })()`);
    await page.waitForFunction(`Object.values(window.subs).every((r) => r.sub.state === "open")`, undefined, { timeout: 10000 });
    const opened = await recorded(page);
    expect(Object.values(opened).map((r) => r.transport)).toEqual(["ws", "sse", "longpoll", "sse"]);
    expect(opened.auto.notices).toEqual(["fallback"]);

    const expected: Array<{ channel: string; id: string; data: string; event: string | null }> = [];
    const payloads = ["héllo wörld ☃ 😀 中文", 'say "hi" \\ /', "line1\nline2\r\nline3", "", '{"json":[1,2]}'];
    for (let i = 0; i < 30; i++) {
      if (i === 10) {
        await stack.restartRedis(300);
      }
      const channel = i % 3 === 0 ? "other" : "page";
      const data = `${i}: ${payloads[i % payloads.length]}`;
      const event = i % 4 === 0 ? "chat" : undefined;
      expected.push({ channel, id: await publish(stack, channel, data, `page-${i}`, event), data, event: event ?? null });
      await sleep(50);
    }
    // After the restart every stream has heard redis-restored (or, long-poll, polled again).
    await eventually(async () => Object.values(await recorded(page)).every((r) => r.messages.length >= expected.length), 15000, 100);
    await sleep(300);
    for (const [name, r] of Object.entries(await recorded(page))) {
      expect({ name, messages: r.messages }).toEqual({ name, messages: expected });
      expect({ name, errors: r.errors }).toEqual({ name, errors: [] });
    }
    await page.evaluate(`Object.values(window.subs).forEach((r) => r.sub.close())`);
  });
});
