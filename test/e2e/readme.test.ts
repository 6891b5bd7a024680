// The examples of README.md and sdk/README.md, run as printed against real gateways (how a block
// is found, what is changed in it and how its output is checked: test/e2e/examples.ts). Every
// fenced block is named by an example marker or says why it is not run; every named one runs here.

import { createServer, Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mintToken } from "../../sdk";
import { Browser, launchChromium } from "./clients";
import { Block, blocksOf, jsExpected, rewrite, runNode, runStep, shellSteps, shows, Step, Target } from "./examples";
import { fetchText, sleep, Stack, useStack } from "./harness";

const blocks = ["README.md", "sdk/README.md"].flatMap(blocksOf);
const run = new Set<string>();

/** The block named `name` (there is exactly one), counted as run. */
function block(name: string): Block {
  const found = blocks.filter((b) => b.name === name);
  if (found.length !== 1) {
    throw new Error(`${found.length} blocks named ${name}`);
  }
  run.add(name);
  return found[0];
}

function targetOf(stack: Stack, app?: string): Target {
  return { base: stack.base, redisPort: Number(new URL(stack.redis.url).port), redisUrl: stack.redis.url, app };
}

/** A durable publish, as a backend does it (POST /pub). */
async function publish(stack: Stack, channel: string, data: string, key?: string): Promise<void> {
  const headers: Record<string, string> = key !== undefined ? { Authorization: `Bearer ${key}` } : {};
  const answer = await fetchText(`${stack.base}/pub?channel=${encodeURIComponent(channel)}`, { method: "POST", body: data, headers });
  expect(answer.status).toBe(200);
}

async function runSteps(name: string, target: Target, env: Record<string, string> = {}, poke?: () => Promise<void>): Promise<string[]> {
  const printed: string[] = [];
  for (const step of shellSteps(block(name).body)) {
    printed.push(await runStep(step, target, env, poke));
  }
  return printed;
}

/** Runs a page's script as a module in a page of the gateway's origin; what it logs must show `expected`. */
async function runInChromium(browser: Browser, code: string, target: Target, expected: string[], poke?: () => Promise<void>): Promise<void> {
  const page = await browser.context.newPage();
  const printed: string[] = [];
  const errors: string[] = [];
  page.on("console", (message) => printed.push(message.text()));
  page.on("pageerror", (error) => errors.push(error.message));
  try {
    await page.goto(`${target.base}/demo/`);
    await page.addScriptTag({ content: rewrite(code, target), type: "module" });
    const deadline = Date.now() + 10000;
    while (!shows(expected, printed.join("\n")) && Date.now() < deadline) {
      await poke?.();
      await sleep(250);
    }
  } finally {
    await page.close();
  }
  expect(errors).toEqual([]);
  if (!shows(expected, printed.join("\n"))) {
    throw new Error(`Chromium did not show ${JSON.stringify(expected)}:\n${code}\n--- printed:\n${printed.join("\n")}`);
  }
}

test("every fenced block is a named example or says why it is not run", () => {
  const unmarked = blocks.filter((b) => b.name === undefined && b.notRun === undefined).map((b) => `${b.file}:${b.line}`);
  expect(unmarked).toEqual([]);
  const names = blocks.flatMap((b) => (b.name !== undefined ? [b.name] : []));
  expect(new Set(names).size).toBe(names.length);
});

describe("README.md, a gateway without tokens", () => {
  const stack = useStack({ settings: { mode: "shared" } });
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });
  const hello = (channel: string) => () => publish(stack, channel, "hello");

  test("the first subscribe, publish and what curl prints", async () => {
    const target = targetOf(stack);
    const [subscribe] = shellSteps(block("first-subscribe").body);
    const printed = block("first-output").body.split("\n");
    const publishing = shellSteps(block("first-publish").body);
    await runStep({ code: subscribe.code, expected: printed }, target, {}, async () => {
      await runStep(publishing[0], target, {});
    });
  });

  test("the array line shape, with the id of a durable message", async () => {
    await runSteps("array-curl", targetOf(stack), {}, hello("abc"));
  });

  test("Server-Sent Events: curl, Node (with its import) and Chromium", async () => {
    const target = targetOf(stack);
    await runSteps("sse-curl", target, {}, hello("abc"));
    const page = block("sse-js").body;
    await runNode(`${block("sse-node-import").body}\n${page}`, target, {}, hello("abc"));
    await runInChromium(browser, page, target, jsExpected(page), hello("abc"));
  });

  test("long-poll", async () => {
    await runSteps("lp-curl", targetOf(stack), {}, hello("a"));
  });

  test("WebSocket: Node (with its import) and Chromium", async () => {
    const target = targetOf(stack);
    const page = block("ws-js").body;
    await runNode(`${block("ws-node-import").body}\n${page}`, target, {}, hello("abc"));
    await runInChromium(browser, page, target, jsExpected(page), hello("abc"));
  });

  test("the client library in a page", async () => {
    const page = block("client-browser").body;
    await runInChromium(browser, page, targetOf(stack), jsExpected(page));
    // the page's ack moved user 42's read position past what it published
    const unread = await fetchText(`${stack.base}/unread?key=room:lobby&user=42`);
    expect(JSON.parse(unread.body)).toEqual({ unread: { "room:lobby": 0 } });
  });

  test("publishing: HTTP, the Redis function, a plain PUBLISH", async () => {
    const target = targetOf(stack);
    await runSteps("publish-http", target);
    await runSteps("publish-fcall", target);
    await runSteps("publish-plain", target);
  });

  test("the lines of durable messages, on one channel and on several", async () => {
    const target = targetOf(stack);
    const [one, several] = block("id-lines").body.split("\n");
    const lines: Step[] = [
      { code: "curl -N 'http://127.0.0.1:8080/sub?key=abc'", expected: [one] },
      { code: "curl -N 'http://127.0.0.1:8080/sub?key=a,b'", expected: [several] },
    ];
    await publish(stack, "b", "so that b has a position");
    await runStep(lines[0], target, {}, hello("abc"));
    await runStep(lines[1], target, {}, () => publish(stack, "a", "x"));
  });

  test("resuming", async () => {
    await runSteps("resume-curl", targetOf(stack));
  });

  test("inboxes and read state", async () => {
    await publish(stack, "broadcast", "one");
    await publish(stack, "broadcast", "two");
    await publish(stack, "broadcast", "three");
    await runSteps("inbox-curl", targetOf(stack));
  });
});

describe("README.md and sdk/README.md, a gateway with tokens", () => {
  const secret = "a-secret-of-at-least-32-bytes-for-the-examples";
  const publisherKey = "a-publisher-key-of-at-least-32-bytes-for-them";
  const stack = useStack({ settings: { mode: "shared", jwtSecret: secret, publisherKey } });
  const env = { PUSHGATE_JWT_SECRET: secret, PUSHGATE_PUBLISHER_KEY: publisherKey };
  // the app's token endpoint that README's Node client example asks (https://app.example)
  let app: Server;
  let appUrl: string;
  beforeAll(async () => {
    app = createServer((_request, response) => response.end(mintToken({ sub: "42", channels: ["room:*", "user:42"], ttl: 3600 }, secret)));
    await new Promise<void>((listening) => app.listen(0, "127.0.0.1", listening));
    appUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((closed) => app?.close(closed));
  });

  test("minting with the SDK, then curl with the token and the publisher key", async () => {
    const target = targetOf(stack);
    const printed = await runNode(block("token-sdk").body, target, env);
    const token = printed.trim().split("\n")[0];
    expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    // the stream with the token shows what the publisher key publishes (in a second terminal)
    const [subscribe, publishing] = shellSteps(block("token-curl").body);
    const tokenEnv = { ...env, TOKEN: token };
    await runStep(subscribe, target, tokenEnv, async () => {
      await runStep(publishing, target, tokenEnv);
    });
  });

  test("the client library in Node, with the app's getToken", async () => {
    await runNode(block("client-node").body, targetOf(stack, appUrl), env, () => publish(stack, "room:lobby", "hello", publisherKey));
  });

  test.each(["sdk-mint", "sdk-publish-http", "sdk-publish-durable", "sdk-publish-plain"])("sdk/README.md: %s", async (name) => {
    await runNode(block(name).body, targetOf(stack), env);
  });
});

test("every named example ran", () => {
  const names = blocks.flatMap((b) => (b.name !== undefined ? [b.name] : []));
  expect(names.filter((name) => !run.has(name))).toEqual([]);
});
