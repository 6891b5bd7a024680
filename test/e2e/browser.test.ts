// The chat demo (/demo/) and the browser's own EventSource and WebSocket, in headless Chromium
// (Debian's chromium, driven by playwright-core): two people on two gateways that share one
// Redis, each in a browser of its own, in every subscription mode.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { Gateway, startGateway } from "../../src/cli/gateway";
import { parseSettings } from "../../src/config/schema";
import { Browser, launchChromium } from "./clients";
import { eventually, freePort, luaErrors, MODES, Stack, startStack } from "./harness";

const PAYLOADS = ["123", "héllo wörld ☃ 😀 中文", 'say "hi" \\ /', "line1\nline2", "", '{"json":[1,2]}'];

/** Enters a room on the demo page and waits until the stream is live. */
async function enter(page: Page, base: string, room: string, name: string, transport: "sse" | "ws"): Promise<void> {
  await page.goto(`${base}/demo/?room=${room}&name=${name}&transport=${transport}`);
  await page.click("#connect");
  await page.waitForSelector('#status[data-state="live"]', { timeout: 10000 });
}

async function say(page: Page, text: string): Promise<void> {
  await page.fill("#text", text);
  await page.click("#say");
  await page.waitForFunction('document.getElementById("text").value === ""');
}

/** The chat lines shown: "name text". */
function lines(page: Page): Promise<string[]> {
  return page.evaluate(
    `Array.from(document.querySelectorAll("#messages li.message"), (item) => item.querySelector(".who").textContent + " " + item.lastChild.textContent)`,
  ) as Promise<string[]>;
}

async function waitForLines(page: Page, count: number, timeoutMs = 10000): Promise<string[]> {
  await eventually(async () => (await lines(page)).length >= count, timeoutMs, 50);
  return lines(page);
}

describe.each(MODES)("%s mode", (mode) => {
  let stack: Stack;
  let second: Gateway;
  let secondBase: string;
  let secondDir: string;
  let alice: Browser;
  let bob: Browser;

  beforeAll(async () => {
    stack = await startStack({ settings: { mode, retryAfterSeconds: "1" } });
    // A second gateway on the same Redis: a message published on one reaches the other's clients.
    secondDir = mkdtempSync(join(tmpdir(), "pushgate-test-"));
    const port = await freePort();
    const [settings, err] = parseSettings({
      mode,
      listen: `127.0.0.1:${port}`,
      redisUrl: stack.redis.url,
      runtimeDir: secondDir,
      workers: "2",
      retryAfterSeconds: "1",
    });
    if (settings === undefined) {
      throw new Error(err);
    }
    second = await startGateway(settings, "ignore");
    secondBase = `http://127.0.0.1:${port}`;
    alice = await launchChromium();
    bob = await launchChromium();
  });

  afterAll(async () => {
    await alice?.close();
    await bob?.close();
    await second?.stop();
    rmSync(secondDir, { recursive: true, force: true });
    expect(luaErrors(stack.errorLog())).toEqual([]);
    await stack.stop();
  });

  test("two people chat across two gateways: one over SSE, one over WebSocket", async () => {
    const a = await alice.context.newPage();
    const b = await bob.context.newPage();
    await enter(a, stack.base, "r1", "alice", "sse");
    await enter(b, secondBase, "r1", "bob", "ws");
    await say(a, "hello from alice ☃");
    expect(await waitForLines(b, 1)).toEqual(["alice hello from alice ☃"]);
    await say(b, 'hi alice 😀 "quoted"');
    const expected = ["alice hello from alice ☃", 'bob hi alice 😀 "quoted"'];
    expect(await waitForLines(a, 2)).toEqual(expected);
    expect(await waitForLines(b, 2)).toEqual(expected);
    await a.close();
    await b.close();
  });

  test("offline and back: each receives what it missed, once and in order", async () => {
    const a = await alice.context.newPage();
    const b = await bob.context.newPage();
    await enter(a, stack.base, "r2", "alice", "sse");
    await enter(b, secondBase, "r2", "bob", "ws");
    await say(a, "before");
    await waitForLines(b, 1);

    // Bob (WebSocket) goes offline; Alice goes on talking.
    await bob.context.setOffline(true);
    await b.waitForSelector('#status[data-state="reconnecting"]');
    for (const text of ["missed 1", "missed 2", "missed 3"]) {
      await say(a, text);
    }
    await bob.context.setOffline(false);
    await b.waitForSelector('#status[data-state="live"]', { timeout: 10000 });
    const four = ["alice before", "alice missed 1", "alice missed 2", "alice missed 3"];
    expect(await waitForLines(b, 4)).toEqual(four);

    // Alice (SSE) goes offline; Bob answers.
    await alice.context.setOffline(true);
    await a.waitForSelector('#status[data-state="reconnecting"]');
    await say(b, "you missed this");
    await say(b, "and this");
    await alice.context.setOffline(false);
    await a.waitForSelector('#status[data-state="live"]', { timeout: 10000 });
    const all = [...four, "bob you missed this", "bob and this"];
    expect(await waitForLines(a, 6)).toEqual(all);
    expect(await waitForLines(b, 6)).toEqual(all);
    await a.close();
    await b.close();
  });

  test("Chromium's native EventSource and WebSocket get every payload byte-exact", async () => {
    const page = await alice.context.newPage();
    await page.goto(`${stack.base}/demo/`);
    // In the page: the browser's own clients, collecting what they receive.
    await page.evaluate(`
      window.sse = []; window.ws = []; window.opened = 0;
      const source = new EventSource("/sse?key=native");
      source.onopen = () => { window.opened += 1; };
      source.onmessage = (event) => { window.sse.push(event.data); };
      const socket = new WebSocket("ws://" + location.host + "/ws?key=native");
      socket.onopen = () => { window.opened += 1; };
      socket.onmessage = (event) => { window.ws.push(JSON.parse(event.data)); };
    `);
    await page.waitForFunction("window.opened === 2");
    for (const payload of PAYLOADS) {
      await stack.client.publish("native", payload);
    }
    await page.waitForFunction(`window.sse.length >= ${PAYLOADS.length} && window.ws.length >= ${PAYLOADS.length}`);
    const got = (await page.evaluate("({ sse: window.sse, ws: window.ws })")) as { sse: string[]; ws: unknown[] };
    expect(got.sse).toEqual(PAYLOADS);
    expect(got.ws).toEqual(PAYLOADS.map((data) => ({ type: "message", channel: "native", data })));
    await page.close();
  });

  test("a gateway reload: the page's EventSource comes back by itself with Last-Event-ID", async () => {
    const a = await alice.context.newPage();
    const b = await bob.context.newPage();
    await enter(a, stack.base, "r3", "alice", "sse");
    await enter(b, secondBase, "r3", "bob", "ws");
    await say(b, "one");
    await waitForLines(a, 1);
    stack.gateway.reload();
    await a.waitForSelector('#status[data-state="reconnecting"]', { timeout: 10000 });
    await say(b, "two");
    await say(b, "three");
    expect(await waitForLines(a, 3)).toEqual(["bob one", "bob two", "bob three"]);
    await a.close();
    await b.close();
  });
});
