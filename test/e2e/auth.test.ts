// Who may read and publish what, against a real gateway with grants on: tokens from every place
// a client can put them, hostile tokens, channel grants, expiry mid-stream, publisher
// credentials, limits, fuzzed requests, and isolation between clients. In every mode.

import { createHmac } from "node:crypto";
import { mintToken } from "../../sdk";
import { publishHttp, PublishError } from "../../sdk/http";
import { eventually, fetchText, luaErrors, MODES, sleep, Stream, useStack, withStack } from "./harness";

const SECRET = "s3cret-s3cret-s3cret-s3cret-s3cret!";
const PREVIOUS = "the-previous-secret-still-accepted-for-a-while";
const PUBLISHER_KEY = "publisher-key-publisher-key-publisher-key";

function b64(text: string | Buffer): string {
  return Buffer.from(text).toString("base64url");
}

/** A token signed by hand, so tests can break it in every way. */
function craft(header: object | string, payload: object | string, secret = SECRET, signature?: string): string {
  const h = b64(typeof header === "string" ? header : JSON.stringify(header));
  const p = b64(typeof payload === "string" ? payload : JSON.stringify(payload));
  const sig = signature ?? createHmac("sha256", secret).update(`${h}.${p}`).digest("base64url");
  return `${h}.${p}.${sig}`;
}

const now = (): number => Math.floor(Date.now() / 1000);
const claims = (extra: object = {}): object => ({ sub: "alice", channels: ["room:*", "user:alice"], exp: now() + 600, ...extra });

async function errorOf(url: string, init: Parameters<typeof fetchText>[1] = {}): Promise<[number, string]> {
  const answer = await fetchText(url, init);
  const body = answer.status === 200 ? { error: "" } : (JSON.parse(answer.body) as { error: string });
  return [answer.status, body.error];
}

describe.each(MODES)("%s mode with grants", (mode) => {
  const stack = useStack({
    settings: {
      mode,
      jwtSecret: SECRET,
      jwtPreviousSecret: PREVIOUS,
      publisherKey: PUBLISHER_KEY,
      jwtLeewaySeconds: "0",
      maxConnectionsPerUser: "3",
      publishRatePerSecond: "20",
    },
  });

  test("a token from the Authorization header, ?token= or the cookie opens the stream", async () => {
    const token = mintToken({ sub: "alice", channels: ["room:*"], ttl: 600 }, SECRET);
    const streams = [
      await new Stream(`${stack.base}/sub?key=room:1`, { Authorization: `Bearer ${token}` }).open(),
      await new Stream(`${stack.base}/sub?key=room:1&token=${token}`).open(),
      await new Stream(`${stack.base}/sub?key=room:1`, { Cookie: `pushgate_token=${token}` }).open(),
    ];
    expect(streams.map((s) => s.status)).toEqual([200, 200, 200]);
    await publishHttp(stack.base, "room:1", "hi", { token: PUBLISHER_KEY });
    for (const stream of streams) {
      expect(await stream.waitForMessages(1)).toMatchObject([{ channel: "room:1", data: "hi" }]);
      stream.close();
    }
  });

  test("a token signed with the previous secret is still accepted (rotation)", async () => {
    const stream = await new Stream(`${stack.base}/sub?key=room:2&token=${craft({ alg: "HS256", typ: "JWT" }, claims(), PREVIOUS)}`).open();
    expect(stream.status).toBe(200);
    stream.close();
  });

  test("no token: 401 saying where to put one", async () => {
    const answer = await fetchText(`${stack.base}/sub?key=room:1`);
    expect(answer.status).toBe(401);
    expect(answer.headers["www-authenticate"]).toContain("Bearer");
    expect((JSON.parse(answer.body) as { error: string }).error).toContain("a token is required");
  });

  const good = { alg: "HS256", typ: "JWT" };
  test.each([
    ["alg none", () => craft({ alg: "none", typ: "JWT" }, claims(), SECRET, ""), "alg"],
    ["alg none with a signature", () => craft({ alg: "none" }, claims()), "alg"],
    ["alg HS512", () => craft({ alg: "HS512", typ: "JWT" }, claims()), "alg"],
    ["alg RS256 signed by HMAC, no kid (key confusion)", () => craft({ alg: "RS256", typ: "JWT" }, claims()), "kid"],
    ["alg RS256 with a kid, no public key configured", () => craft({ alg: "RS256", typ: "JWT", kid: "k1" }, claims()), "kid"],
    [
      "tampered payload",
      () => {
        const [h, , s] = craft(good, claims()).split(".");
        return `${h}.${b64(JSON.stringify(claims({ channels: ["*"] })))}.${s}`;
      },
      "signature",
    ],
    ["tampered signature", () => craft(good, claims(), SECRET, b64("x".repeat(32))), "signature"],
    ["truncated signature", () => craft(good, claims()).slice(0, -5), "signature"],
    ["wrong secret", () => craft(good, claims(), "another-secret-another-secret-another"), "signature"],
    ["expired", () => craft(good, claims({ exp: now() - 10 })), "expired"],
    ["not yet valid", () => craft(good, claims({ nbf: now() + 600 })), "not valid yet"],
    ["huge", () => craft(good, claims({ pad: "x".repeat(9000) })), "too"],
    ["non-JSON claims", () => craft(good, "not json at all"), "json"],
    ["claims an array", () => craft(good, "[1,2]"), ""],
    ["sub a number", () => craft(good, claims({ sub: 42 })), "sub"],
    ["channels a string", () => craft(good, claims({ channels: "room:*" })), "channels"],
    ["exp a string", () => craft(good, claims({ exp: "tomorrow" })), "exp"],
    ["two segments", () => craft(good, claims()).split(".").slice(0, 2).join("."), ""],
    ["bad base64url", () => `${craft(good, claims())}!`, ""],
  ])("hostile token: %s -> 401 with a reason", async (_name, make, reason) => {
    const [status, error] = await errorOf(`${stack.base}/sub?key=room:1&token=${encodeURIComponent(make())}`);
    expect(status).toBe(401);
    expect(error.length).toBeGreaterThan(0);
    expect(error.toLowerCase()).toContain(reason.toLowerCase());
  });

  test("a channel outside the grant: 403 naming it", async () => {
    const token = mintToken({ sub: "alice", channels: ["room:*"], ttl: 600 }, SECRET);
    const [status, error] = await errorOf(`${stack.base}/sub?key=room:1,admin&token=${token}`);
    expect([status, error]).toEqual([403, "channel admin is not granted by the token"]);
  });

  test("a token that expires mid-stream ends the stream with a reason", async () => {
    const token = craft(good, claims({ exp: now() + 2 }));
    const stream = await new Stream(`${stack.base}/sub?key=room:exp&token=${token}`).open();
    expect(stream.status).toBe(200);
    await stream.done;
    expect(stream.messages()).toEqual([{ type: "error", error: "token expired", reconnect: false }]);
  }, 10000);

  test("the token's subject is the user: its inbox replays without ?user=", async () => {
    await publishHttp(stack.base, "user:alice", "for alice", { token: PUBLISHER_KEY });
    const token = mintToken({ sub: "alice", channels: ["user:alice"], ttl: 600 }, SECRET);
    const stream = await new Stream(`${stack.base}/sub?key=user:alice&token=${token}&user=mallory`).open();
    expect(await stream.waitForMessages(1)).toMatchObject([{ channel: "user:alice", data: "for alice" }]);
    stream.close();
    // mallory's token cannot read alice's inbox, whatever ?user= says
    const mallory = mintToken({ sub: "mallory", channels: ["user:mallory"], ttl: 600 }, SECRET);
    expect((await errorOf(`${stack.base}/sub?key=user:alice&token=${mallory}&user=alice`))[0]).toBe(403);
  });

  test("at most maxConnectionsPerUser streams per user: 429 past it", async () => {
    const token = mintToken({ sub: "bob", channels: ["room:*"], ttl: 600 }, SECRET);
    const streams = await Promise.all([1, 2, 3].map(() => new Stream(`${stack.base}/sub?key=room:b&token=${token}`).open()));
    expect(streams.map((s) => s.status)).toEqual([200, 200, 200]);
    const [status, error] = await errorOf(`${stack.base}/sub?key=room:b&token=${token}`);
    expect([status, error]).toEqual([429, "too many connections for this user: at most 3"]);
    // a slot frees when a stream ends
    streams[0].close();
    let again: Stream | undefined;
    expect(
      await eventually(
        async () => {
          again?.close();
          again = await new Stream(`${stack.base}/sub?key=room:b&token=${token}`).open();
          return again.status === 200;
        },
        3000,
        100,
      ),
    ).toBe(true);
    again?.close();
    streams.forEach((s) => s.close());
  });

  describe("POST /pub", () => {
    test("needs a publisher credential: none 401, a subscriber token 403, the key or a publish grant 200", async () => {
      expect((await errorOf(`${stack.base}/pub?channel=room:p`, { method: "POST", body: "x" }))[0]).toBe(401);
      const reader = mintToken({ sub: "carol", channels: ["room:*"], ttl: 600 }, SECRET);
      await expect(publishHttp(stack.base, "room:p", "x", { token: reader })).rejects.toMatchObject({ status: 403 });
      const writer = mintToken({ sub: "carol", channels: [], publish: ["room:*"], ttl: 600 }, SECRET);
      expect((await publishHttp(stack.base, "room:p", "x", { token: writer })).id).toMatch(/^\d+-\d+$/);
      await expect(publishHttp(stack.base, "other", "x", { token: writer })).rejects.toBeInstanceOf(PublishError);
      expect((await publishHttp(stack.base, "anything", "x", { token: PUBLISHER_KEY })).channel).toBe("anything");
      expect((await errorOf(`${stack.base}/pub?channel=x`, { method: "POST", body: "x", headers: { Authorization: "Bearer wrong-key" } }))[0]).toBe(401);
    });

    test("per-credential rate limit: 429 with Retry-After past it", async () => {
      const writer = mintToken({ sub: "dave", channels: [], publish: ["*"], ttl: 600 }, SECRET);
      const answers = await Promise.all(
        Array.from({ length: 60 }, () =>
          fetchText(`${stack.base}/pub?channel=rate`, { method: "POST", body: "x", headers: { Authorization: `Bearer ${writer}` } }),
        ),
      );
      const limited = answers.filter((a) => a.status === 429);
      expect(limited.length).toBeGreaterThan(0);
      expect(limited[0].headers["retry-after"]).toBe("1");
      expect(answers.filter((a) => a.status === 200).length).toBeLessThanOrEqual(40); // 20 per second, the burst may straddle two
    });
  });

  test("fuzz: 3,000 random query strings, headers and cursors get 4xx or 200, never a 500", async () => {
    let seed = 7;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const alphabet = "abcXYZ019:_-./@*,=%&?#;+ \u00e9\u2603\u0000\u007f\"'<>{}[]\\";
    const junk = (max: number): string => Array.from({ length: random(max) }, () => alphabet[random(alphabet.length)]).join("");
    const token = mintToken({ sub: "fuzz", channels: ["*"], ttl: 600 }, SECRET);
    const paths = ["/sub", "/pub", "/ack", "/unread", "/lp", "/sse"];
    const statuses = new Map<number, number>();
    for (let i = 0; i < 3000; i += 50) {
      const batch = Array.from({ length: 50 }, () => {
        const path = paths[random(paths.length)];
        const query = [
          `key=${encodeURIComponent(junk(20))}`,
          `since=${encodeURIComponent(junk(30))}`,
          `token=${random(2) === 0 ? token : encodeURIComponent(junk(40))}`,
          `backlog=${encodeURIComponent(junk(5))}`,
          `timeout=1`,
        ]
          .filter(() => random(3) > 0)
          .join("&");
        const headers: Record<string, string> = { "Last-Event-ID": encodeURIComponent(junk(30)) };
        if (random(2) === 0) {
          headers.Authorization = `Bearer ${random(2) === 0 ? token : encodeURIComponent(junk(50))}`;
        }
        const url = `${stack.base}${path}?${query}`;
        return fetchText(url, { method: path === "/pub" || path === "/ack" ? "POST" : "GET", body: path === "/pub" ? junk(10) : undefined, headers })
          .then((a) => a.status)
          .catch(() => -1);
      });
      // a valid request streams: give each at most a moment, then move on
      const results = await Promise.all(batch.map((p) => Promise.race([p, sleep(1500).then(() => 200)])));
      for (const status of results) {
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    }
    for (const status of statuses.keys()) {
      expect(status === 200 || status === 204 || (status >= 400 && status < 500)).toBe(true);
    }
    expect(luaErrors(stack.errorLog())).toEqual([]);
  }, 120000);
});

test("isolation: many clients with random grants never receive a channel they were not granted", async () => {
  await withStack({ settings: { mode: "shared", jwtSecret: SECRET, publisherKey: PUBLISHER_KEY } }, async (stack) => {
    const channels = Array.from({ length: 12 }, (_, i) => `iso:${i}`);
    let seed = 11;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const clients = await Promise.all(
      Array.from({ length: 60 }, (_, i) => {
        const granted = channels.filter(() => random(3) === 0);
        const grant = granted.length > 0 ? granted : [channels[i % channels.length]];
        const token = mintToken({ sub: `u${i}`, channels: random(5) === 0 ? ["iso:1*"] : grant, ttl: 600 }, SECRET);
        const asked = random(5) === 0 ? ["iso:1*".replace("*", "")] : grant; // some ask exactly their prefix
        return new Stream(`${stack.base}/sub?key=${asked.join(",")}&token=${token}`)
          .open()
          .then((s) => ({ s, grant: random(5) === 0 ? ["iso:1*"] : grant, token }));
      }),
    );
    for (let i = 0; i < 200; i++) {
      await publishHttp(stack.base, channels[random(channels.length)], `m${i}`, { token: PUBLISHER_KEY });
    }
    await sleep(500);
    const payload = (t: string): { channels: string[] } => JSON.parse(Buffer.from(t.split(".")[1], "base64url").toString()) as { channels: string[] };
    for (const { s, token } of clients) {
      const grantPatterns = payload(token).channels;
      const allowed = (ch: string): boolean => grantPatterns.some((p) => (p.endsWith("*") ? ch.startsWith(p.slice(0, -1)) : p === ch));
      for (const m of s.messages() as Array<{ channel?: string }>) {
        if (m.channel !== undefined) {
          expect(allowed(m.channel)).toBe(true);
        }
      }
      s.close();
    }
  });
});
