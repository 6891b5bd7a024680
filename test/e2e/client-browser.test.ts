// The client library in headless Chromium: a page imports /client.js from the gateway, subscribes
// over each transport (and auto with its WebSocket refused), and receives durable messages once
// and in order across a Redis restart, a reload and killed workers; a token refreshed before it
// expires keeps a subscription open.

import type { Page } from "playwright-core";
import { childPids } from "../../src/cli/gateway";
import { mintToken } from "../../sdk";
import { Browser, launchChromium } from "./clients";
import { Stack, eventually, fetchText, luaErrors, sleep, startStack, withStack } from "./harness";

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
  const headers: Record<string, string> = { "Idempotency-Key": key };
  if (stack.settings.publisherKey.length > 0) {
    headers.Authorization = `Bearer ${stack.settings.publisherKey}`;
  }
  for (;;) {
    const query = event === undefined ? "" : `&event=${event}`;
    const answer = await fetchText(`${stack.base}/pub?channel=${channel}${query}`, { method: "POST", body: data, headers }).catch(() => undefined);
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
    // the workers killed on purpose are the one thing the log may hold
    expect(luaErrors(stack.errorLog().replace(/^.*worker process \d+ exited on signal 9.*$/gm, ""))).toEqual([]);
    await stack.stop();
  });

  test("GET /client.js is an ES module the page imports", async () => {
    const answer = await fetchText(`${stack.base}/client.js`);
    expect(answer.status).toBe(200);
    expect(answer.headers["content-type"]).toBe("text/javascript");
    expect(answer.body).toContain("export function subscribe");
    expect(await page.evaluate(`import("/client.js").then((module) => typeof module.subscribe)`)).toBe("function");
  });

  test("each transport, and auto with WebSocket refused, receives in order across a Redis restart, a reload and killed workers", async () => {
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
    for (let i = 0; i < 45; i++) {
      if (i === 10) {
        await stack.restartRedis(300);
      } else if (i === 20) {
        stack.gateway.reload();
      } else if (i === 32) {
        for (const pid of childPids(stack.gateway.process.pid)) {
          process.kill(pid, "SIGKILL");
        }
      }
      const channel = i % 3 === 0 ? "other" : "page";
      const data = `${i}: ${payloads[i % payloads.length]}`;
      const event = i % 4 === 0 ? "chat" : undefined;
      expected.push({ channel, id: await publish(stack, channel, data, `page-${i}`, event), data, event: event ?? null });
      await sleep(50);
    }
    // After the restart every stream has heard redis-restored (or, long-poll, polled again).
    await eventually(async () => Object.values(await recorded(page)).every((r) => r.messages.length >= expected.length), 20000, 100);
    await sleep(300);
    for (const [name, r] of Object.entries(await recorded(page))) {
      expect({ name, messages: r.messages }).toEqual({ name, messages: expected });
      expect({ name, errors: r.errors }).toEqual({ name, errors: [] });
    }
    await page.evaluate(`Object.values(window.subs).forEach((r) => r.sub.close())`);
  });

  test("a token refreshed before it expires keeps the subscription open, on every transport", async () => {
    const secret = "s".repeat(40);
    await withStack({ settings: { jwtSecret: secret, publisherKey: "p".repeat(40), jwtLeewaySeconds: "0", workers: "1" } }, async (secured) => {
      const tokenPage = await browser.context.newPage();
      await tokenPage.goto(`${secured.base}/demo/`);
      // tokens live 3 s; the page asks Node for a new one whenever the client calls getToken
      await tokenPage.exposeFunction("freshToken", () => mintToken({ sub: "page", channels: ["refresh:*"], ttl: 3 }, secret));
      await tokenPage.evaluate(`(async () => {
        const { subscribe } = await import("/client.js");
        window.subs = {};
        for (const transport of ["ws", "sse", "longpoll"]) {
          const sub = subscribe(["refresh:1"], { transport, token: await window.freshToken(), getToken: () => window.freshToken(), longPollSeconds: 2 });
          const r = { sub, messages: [], states: [], notices: [], errors: [] };
          sub.on("message", (m) => r.messages.push({ channel: m.channel, id: m.id ?? null, data: m.data, event: m.event ?? null }));
          sub.on("state", (s) => r.states.push(s));
          sub.on("notice", (n) => r.notices.push(n.notice));
          sub.on("error", (e) => r.errors.push(e.message));
          window.subs[transport] = r;
        }
      })()`);
      await tokenPage.waitForFunction(`Object.values(window.subs).every((r) => r.sub.state === "open")`, undefined, { timeout: 10000 });
      const ids: string[] = [];
      for (let i = 0; i < 16; i++) {
        ids.push(await publish(secured, "refresh:1", `r${i}`, `refresh-${i}`)); // 8 s: past two token lifetimes
        await sleep(500);
      }
      await eventually(async () => Object.values(await recorded(tokenPage)).every((r) => r.messages.length >= ids.length), 10000, 100);
      for (const [name, r] of Object.entries(await recorded(tokenPage))) {
        expect({ name, ids: r.messages.map((m) => m.id), errors: r.errors }).toEqual({ name, ids, errors: [] });
        expect({ name, closed: r.states.includes("closed") }).toEqual({ name, closed: false });
      }
      const ws = (await recorded(tokenPage)).ws;
      expect(ws.states).toEqual(["open"]); // WebSocket refreshes on the live connection: it never reconnected
      await tokenPage.evaluate(`Object.values(window.subs).forEach((r) => r.sub.close())`);
      await tokenPage.close();
    });
  });
});
