// The status page (/admin/) in headless Chromium (Debian's chromium, driven by playwright-core)
// against a real gateway and Redis: it shows live numbers that follow streams opening and
// messages delivered, draws the delivery rate, lists a Redis failure among the recent errors,
// and with credentials on asks for the admin key, which /status (and so the page) needs then.

import type { Page } from "playwright-core";
import { Browser, launchChromium } from "./clients";
import { eventually, fetchText, luaErrors, sleep, Stack, startStack, Stream, withStack } from "./harness";

const ADMIN_KEY = "admin-key-for-the-status-page-0123456789";
const PUBLISHER_KEY = "publisher-key-for-the-status-page-012345";
const JWT_SECRET = "jwt-secret-for-the-status-page-0123456789";

async function text(page: Page, selector: string): Promise<string> {
  return (await page.textContent(selector)) ?? "";
}

/** Waits until the text of `selector` reads as a number that `check` accepts; returns the last text. */
async function waitForNumber(page: Page, selector: string, check: (n: number) => boolean, timeoutMs = 8000): Promise<string> {
  let seen = "";
  await eventually(
    async () => {
      seen = await text(page, selector);
      return check(Number(seen));
    },
    timeoutMs,
    100,
  );
  return seen;
}

async function publish(base: string, channel: string, data: string): Promise<number> {
  return (await fetchText(`${base}/pub?channel=${channel}`, { method: "POST", body: data })).status;
}

describe("the status page", () => {
  let stack: Stack;
  let browser: Browser;

  beforeAll(async () => {
    stack = await startStack({ settings: { mode: "shared" } });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    expect(luaErrors(stack.errorLog())).toEqual([]);
    await stack.stop();
  });

  test("shows streams by transport, subscribers and deliveries as they change, and draws the rate", async () => {
    const page = await browser.context.newPage();
    await page.goto(`${stack.base}/admin/`);
    await page.waitForSelector('#state[data-state="live"]', { timeout: 10000 });
    expect(await text(page, "#mode")).toBe("shared");
    expect(await waitForNumber(page, "#streams-total", (n) => n === 0)).toBe("0");

    const streams = [
      await new Stream(`${stack.base}/sub?key=admin:a`).open(),
      await new Stream(`${stack.base}/sub?key=admin:a`).open(),
      await new Stream(`${stack.base}/sse?key=admin:a`).open(),
    ];
    expect(await waitForNumber(page, "#streams-total", (n) => n === 3)).toBe("3");
    expect(await text(page, '#transports tr[data-transport="chunked"] td:nth-child(2)')).toBe("2");
    expect(await text(page, '#transports tr[data-transport="sse"] td:nth-child(2)')).toBe("1");
    streams.push(await new Stream(`${stack.base}/sse?key=admin:a`).open(), await new Stream(`${stack.base}/sub?key=admin:b`).open());
    expect(await waitForNumber(page, "#streams-total", (n) => n === 5)).toBe("5");
    expect(await waitForNumber(page, "#subscribers", (n) => n === 5)).toBe("5");
    // each worker's hub counts the channels it carries: admin:a may be held by both workers
    expect(["2", "3"]).toContain(await waitForNumber(page, "#channels", (n) => n === 2 || n === 3));
    expect(await text(page, '#transports tr[data-transport="sse"] td:nth-child(2)')).toBe("2");

    // the delivered counter rises: 20 messages to the 4 streams of admin:a
    const before = Number(await text(page, "#delivered"));
    for (let i = 0; i < 20; i++) {
      expect(await publish(stack.base, "admin:a", `m${i}`)).toBe(200);
    }
    await Promise.all(streams.slice(0, 2).map((s) => s.waitForMessages(20))); // the chunked ones (the SSE ones count on the page)
    expect(Number(await waitForNumber(page, "#delivered", (n) => n >= before + 80))).toBeGreaterThanOrEqual(before + 80);
    expect(Number(await waitForNumber(page, "#published", (n) => n >= 20))).toBeGreaterThanOrEqual(20);

    // the chart has points and a rate above 0, drawn in its line colour
    await page.waitForFunction('Number(document.getElementById("chart").dataset.max) > 1', undefined, { timeout: 8000 });
    expect(Number(await page.getAttribute("#chart", "data-points"))).toBeGreaterThanOrEqual(2);
    const linePixels = (await page.evaluate(`(() => {
      const canvas = document.getElementById("chart");
      const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
      let count = 0;
      for (let i = 0; i < data.length; i += 4) {
        if (data[i + 2] > 200 && data[i] < 100 && data[i + 3] > 0) count += 1;
      }
      return count;
    })()`)) as number;
    expect(linePixels).toBeGreaterThan(20);

    // each worker's hub, and Redis
    expect(await page.$$eval("#workers tbody tr", (rows) => rows.map((r) => r.children[2].textContent))).toEqual(["connected", "connected"]);
    expect(await page.getAttribute("#redis", "data-state")).toBe("ok");
    expect(await text(page, "#no-errors")).toBe("None.");
    expect(await page.isVisible("#no-errors")).toBe(true);

    for (const s of streams) {
      s.close();
    }
    expect(await waitForNumber(page, "#streams-total", (n) => n === 0)).toBe("0");
    await page.close();
  });

  test("a Redis outage shows: Redis down in /status, then the failures among the recent errors", async () => {
    const page = await browser.context.newPage();
    await page.goto(`${stack.base}/admin/`);
    await page.waitForSelector('#state[data-state="live"]', { timeout: 10000 });
    const restarted = stack.restartRedis(2500);
    await sleep(300);
    expect(await publish(stack.base, "admin:down", "lost")).toBe(503);
    const down = await stack.status();
    expect([down.redis.ok, down.redis.error]).toEqual([false, expect.stringContaining("connection refused")]);
    await restarted;
    let items: string[] = [];
    expect(
      await eventually(
        async () => {
          items = await page.$$eval("#errors li", (lis) => lis.map((li) => li.textContent ?? ""));
          return items.some((i) => i.includes("failed to connect to redis at")) && items.some((i) => i.includes("lost its redis connection"));
        },
        10000,
        100,
      ),
    ).toBe(true);
    expect(await page.isVisible("#no-errors")).toBe(false);
    // and back: the page reads Redis as answering again, the hubs connected
    await page.waitForSelector('#redis[data-state="ok"]', { timeout: 10000 });
    expect(await eventually(async () => (await stack.status()).workers.every((w) => w.connected), 10000)).toBe(true);
    expect(await eventually(async () => (await text(page, "#errors")).includes("connected to redis again"), 8000, 100)).toBe(true);
    await page.close();
  }, 30000);

  test("a failed Redis command is listed too", async () => {
    await stack.client.set("pushgate:{admin:wrong}:stream", "a string where the channel's stream should be");
    const status = await publish(stack.base, "admin:wrong", "refused by redis");
    expect(status).toBeGreaterThanOrEqual(500);
    const page = await browser.context.newPage();
    await page.goto(`${stack.base}/admin/`);
    expect(await eventually(async () => (await text(page, "#errors")).includes("redis publish failed"), 8000, 100)).toBe(true);
    await page.close();
  });
});

describe("with credentials on", () => {
  test("/status needs the admin or publisher key; the page asks for the key, refuses a wrong one, and works with it", async () => {
    const settings = { jwtSecret: JWT_SECRET, adminKey: ADMIN_KEY, publisherKey: PUBLISHER_KEY };
    await withStack({ settings }, async (stack) => {
      expect((await fetchText(`${stack.base}/status`)).status).toBe(401);
      expect((await fetchText(`${stack.base}/status`, { headers: { Authorization: "Bearer not-the-key-not-the-key-not-the-key" } })).status).toBe(401);
      expect((await fetchText(`${stack.base}/status`, { headers: { Authorization: `Bearer ${ADMIN_KEY}` } })).status).toBe(200);
      expect((await fetchText(`${stack.base}/status`, { headers: { Authorization: `Bearer ${PUBLISHER_KEY}` } })).status).toBe(200);
      // refusals are recent problems; repeats before a worker's flush (once a second) are merged
      for (let i = 0; i < 10; i++) {
        expect((await fetchText(`${stack.base}/metrics`)).status).toBe(401);
      }
      const refused = await eventually(async () => {
        const listed = (await stack.status()).errors.filter((e) => e.message === "unauthorized: a request to /metrics was refused for its credential");
        return listed.reduce((sum, e) => sum + e.count, 0) === 10;
      }, 4000);
      expect(refused).toBe(true);
      const listed = (await stack.status()).errors.filter((e) => e.message.includes("/metrics was refused"));
      expect(listed.length).toBeLessThan(10);
      expect(listed.every((e) => e.level === "warn" && e.at > 0)).toBe(true);

      const browser = await launchChromium();
      try {
        const page = await browser.context.newPage();
        await page.goto(`${stack.base}/admin/`);
        await page.waitForSelector('#state[data-state="needs-key"]', { timeout: 10000 });
        expect(await text(page, "#state")).toContain("enter its admin key");
        expect(await page.isVisible("#panels")).toBe(false);

        await page.fill("#key", "not-the-key-not-the-key-not-the-key");
        await page.click("#use-key");
        await page.waitForFunction('document.getElementById("state").textContent.startsWith("That key was refused")', undefined, { timeout: 10000 });
        expect(await page.isVisible("#panels")).toBe(false);

        await page.fill("#key", ADMIN_KEY);
        await page.click("#use-key");
        await page.waitForSelector('#state[data-state="live"]', { timeout: 10000 });
        expect(await page.isVisible("#panels")).toBe(true);
        expect(await text(page, "#mode")).toBe("shared");
        expect(await page.$$eval("#workers tbody tr", (rows) => rows.length)).toBe(2);
        // the refused attempts are among the recent errors
        await eventually(async () => (await text(page, "#errors")).includes("unauthorized: a request to /status was refused"), 8000, 100);
        expect(await text(page, "#errors")).toContain("unauthorized: a request to /status was refused");
        await page.close();
      } finally {
        await browser.close();
      }
      expect(luaErrors(stack.errorLog())).toEqual([]);
    });
  }, 40000);
});
