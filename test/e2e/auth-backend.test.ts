// Backend auth (PUSHGATE_AUTH_URL) against a real gateway and a real small Node HTTP server as the
// app: allow, deny (401/403 as the app says), the app down (503 with Retry-After), and the cache.

import { createServer, IncomingMessage, Server } from "node:http";
import { AddressInfo } from "node:net";
import { freePort } from "../../src/cli/gateway";
import { publishHttp } from "../../sdk/http";
import { fetchText, Stream, withStack } from "./harness";
import { WsClient } from "./clients";

const PUBLISHER_KEY = "publisher-key-publisher-key-publisher-key";

interface Seen {
  path: string;
  cookie: string | undefined;
  authorization: string | undefined;
  upgrade: string | undefined;
}

/** The app: grants by session cookie, refuses others, and records every request it gets. */
function startApp(): Promise<{ server: Server; url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    seen.push({ path: req.url ?? "", cookie: req.headers.cookie, authorization: req.headers.authorization, upgrade: req.headers.upgrade });
    const cookie = req.headers.cookie ?? "";
    const auth = req.headers.authorization ?? "";
    const send = (status: number, body: object): void => {
      res.writeHead(status, { "Content-Type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (cookie.includes("session=alice") || auth === "Bearer app-session-alice") {
      send(200, { user: "alice", channels: ["room:*", "user:alice"], publish: ["room:*"], expires: Math.floor(Date.now() / 1000) + 600 });
    } else if (cookie.includes("session=banned")) {
      send(403, { error: "this account is suspended" });
    } else if (cookie.includes("session=broken")) {
      send(500, { error: "oops" });
    } else {
      send(401, { error: "no session" });
    }
  });
  return new Promise((done) =>
    server.listen(0, "127.0.0.1", () => done({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/auth`, seen })),
  );
}

async function lp(base: string, channels: string, headers: Record<string, string>): Promise<[number, string, string | undefined]> {
  const answer = await fetchText(`${base}/lp?key=${channels}&timeout=0`, { headers });
  const error = answer.status === 200 ? "" : (JSON.parse(answer.body) as { error: string }).error;
  const retry = answer.headers["retry-after"];
  return [answer.status, error, typeof retry === "string" ? retry : undefined];
}

describe("backend auth", () => {
  test("allow, deny and the app's own words, the cookie and Authorization forwarded, answers cached", async () => {
    const app = await startApp();
    try {
      await withStack({ settings: { authUrl: app.url, authCacheSeconds: "2", publisherKey: PUBLISHER_KEY } }, async (stack) => {
        // allowed: the stream opens and receives, the app saw the cookie and the channels
        const stream = await new Stream(`${stack.base}/sub?key=room:1,user:alice`, { Cookie: "theme=dark; session=alice" }).open();
        expect(stream.status).toBe(200);
        await publishHttp(stack.base, "room:1", "hello", { token: PUBLISHER_KEY });
        expect(await stream.waitForMessages(1)).toMatchObject([{ channel: "room:1", data: "hello" }]);
        stream.close();
        expect(app.seen[0]).toEqual({
          path: "/auth?channels=room%3A1%2Cuser%3Aalice",
          cookie: "theme=dark; session=alice",
          authorization: undefined,
          upgrade: undefined,
        });

        // a channel outside the app's grant: 403; no session: 401 with the app's message; banned: 403 with it
        expect(await lp(stack.base, "admin", { Cookie: "session=alice" })).toEqual([403, "channel admin is not granted by the app", undefined]);
        expect(await lp(stack.base, "room:1", {})).toEqual([401, "no session", undefined]);
        expect(await lp(stack.base, "room:1", { Cookie: "session=banned" })).toEqual([403, "this account is suspended", undefined]);
        // the Authorization header goes to the app as it is
        expect((await lp(stack.base, "room:2", { Authorization: "Bearer app-session-alice" }))[0]).toBe(200);
        expect(app.seen[app.seen.length - 1].authorization).toBe("Bearer app-session-alice");

        // a WebSocket upgrade is asked about too (and the app does not see the upgrade headers)
        const before = app.seen.length;
        const ws = new WsClient(`${stack.base.replace("http", "ws")}/ws?key=room:3`, { headers: { Cookie: "session=alice" } });
        await ws.open();
        expect(app.seen.length).toBe(before + 1);
        expect(app.seen[before].upgrade).toBeUndefined();
        // publish frames are held to the app's publish grant
        expect(await ws.request({ type: "publish", channel: "room:3", data: "from alice" })).toMatchObject({ type: "published", channel: "room:3" });
        expect(await ws.request({ type: "publish", channel: "user:alice", data: "x" })).toMatchObject({
          type: "error",
          error: "publishing to channel user:alice is not granted by the token",
        });
        ws.close();
        const refused = new WsClient(`${stack.base.replace("http", "ws")}/ws?key=room:3`, { headers: { Cookie: "session=nobody" } });
        await expect(refused.open()).rejects.toThrow();
        expect(refused.refusedStatus).toBe(401);

        // cache: the same credentials and channels within the TTL do not reach the app again
        const count = app.seen.length;
        expect((await lp(stack.base, "room:9", { Cookie: "session=alice" }))[0]).toBe(200);
        expect((await lp(stack.base, "room:9", { Cookie: "session=alice" }))[0]).toBe(200);
        expect((await lp(stack.base, "room:9", { Cookie: "session=nobody" }))[0]).toBe(401);
        expect((await lp(stack.base, "room:9", { Cookie: "session=nobody" }))[0]).toBe(401);
        expect(app.seen.length).toBe(count + 2);
        // past the TTL it asks again
        await new Promise((done) => setTimeout(done, 2200));
        expect((await lp(stack.base, "room:9", { Cookie: "session=alice" }))[0]).toBe(200);
        expect(app.seen.length).toBe(count + 3);
      });
    } finally {
      app.server.close();
    }
  });

  test("the app down, failing or slow: 503 with Retry-After, never an open door", async () => {
    const app = await startApp();
    const slow = createServer(() => undefined); // accepts and never answers
    await new Promise<void>((done) => slow.listen(0, "127.0.0.1", () => done()));
    const downPort = await freePort();
    try {
      await withStack({ settings: { authUrl: `http://127.0.0.1:${downPort}/auth`, retryAfterSeconds: "7" } }, async (stack) => {
        expect(await lp(stack.base, "room:1", { Cookie: "session=alice" })).toEqual([503, "the app's auth is unavailable, try again later", "7"]);
      });
      await withStack({ settings: { authUrl: app.url } }, async (stack) => {
        expect(await lp(stack.base, "room:1", { Cookie: "session=broken" })).toEqual([503, "the app's auth is unavailable, try again later", "2"]);
      });
      const slowUrl = `http://127.0.0.1:${(slow.address() as AddressInfo).port}/auth`;
      await withStack({ settings: { authUrl: slowUrl, authTimeoutMs: "300" } }, async (stack) => {
        const started = Date.now();
        expect((await lp(stack.base, "room:1", { Cookie: "session=alice" }))[0]).toBe(503);
        expect(Date.now() - started).toBeLessThan(3000);
      });
    } finally {
      app.server.close();
      slow.closeAllConnections();
      slow.close();
    }
  });
});
