// The Node SDK (sdk/): minted tokens pass the gateway's own verifier (src/auth/jwt.ts, here with
// node:crypto; test/vectors/jwt.json carries SDK-minted tokens to the Lua side too), publishHttp's
// errors keep the gateway's status and reason, and publish() is a plain Redis PUBLISH.

import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, IncomingMessage, Server, ServerResponse } from "node:http";
import { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "redis";
import { TokenVerifier, verifyToken } from "../../src/auth/jwt";
import { RedisServer, startRedis } from "../../src/cli/gateway";
import { mintToken, publish, publishHttp, PublishError, RedisPublisher } from "../../sdk";
import { decodeJson, hmacSha256 } from "../../sdk/host";
import { publishUrl } from "../../sdk/http";
import { freePort } from "../e2e/harness";

const SECRET = "a-secret-of-at-least-32-bytes-for-the-tests";
const NOW = 1700000000;

function verifier(secrets: string[] = [SECRET]): TokenVerifier {
  return { secrets, leewaySeconds: 30, maxTokenBytes: 8192, hmacSha256, decodeJson };
}

describe("mintToken", () => {
  test("mints a token the gateway's verifier accepts, with the grant as claims", () => {
    const token = mintToken({ sub: "user:42", channels: ["user:42", "room:*"], ttl: 600, now: NOW }, SECRET);
    const [claims, err] = verifyToken(token, verifier(), NOW + 1);
    expect(err).toBeUndefined();
    expect(claims).toEqual({ sub: "user:42", channels: ["user:42", "room:*"], publish: [], iat: NOW, exp: NOW + 600 });
  });

  test("carries a publish grant", () => {
    const token = mintToken({ sub: "backend", channels: [], publish: ["room:*"], ttl: 60, now: NOW }, SECRET);
    const [claims] = verifyToken(token, verifier(), NOW);
    expect(claims?.publish).toEqual(["room:*"]);
  });

  test("is a standard HS256 JWT: any JWT library reads it", () => {
    const token = mintToken({ sub: "søren ☃", channels: ["room:1"], ttl: 60, now: NOW }, SECRET);
    const [header, payload, signature] = token.split(".");
    expect(JSON.parse(Buffer.from(header, "base64url").toString("utf8"))).toEqual({ alg: "HS256", typ: "JWT" });
    expect(JSON.parse(Buffer.from(payload, "base64url").toString("utf8"))).toEqual({ sub: "søren ☃", channels: ["room:1"], iat: NOW, exp: NOW + 60 });
    expect(signature).toBe(createHmac("sha256", SECRET).update(`${header}.${payload}`).digest("base64url"));
  });

  test("uses the clock by default", () => {
    const before = Math.floor(Date.now() / 1000);
    const token = mintToken({ sub: "a", channels: ["a"], ttl: 60 }, SECRET);
    const [claims] = verifyToken(token, verifier(), Date.now() / 1000);
    expect(claims?.iat).toBeGreaterThanOrEqual(before);
    expect(claims?.exp).toBe((claims?.iat ?? 0) + 60);
  });

  test("expires after ttl and the leeway", () => {
    const token = mintToken({ sub: "a", channels: ["a"], ttl: 60, now: NOW }, SECRET);
    expect(verifyToken(token, verifier(), NOW + 60 + 29)[1]).toBeUndefined();
    expect(verifyToken(token, verifier(), NOW + 60 + 30)[1]).toBe("token expired");
  });

  test("signed with one secret, refused under another", () => {
    const token = mintToken({ sub: "a", channels: ["a"], ttl: 60, now: NOW }, SECRET);
    expect(verifyToken(token, verifier(["another-secret-of-at-least-32-bytes!"]), NOW)[1]).toBe("token signature does not match");
  });

  test("refuses what the gateway would refuse", () => {
    const grant = { sub: "a", channels: ["room:*"], ttl: 60 };
    expect(() => mintToken({ ...grant, sub: "" }, SECRET)).toThrow(new TypeError("failed to mint token: sub must be a non-empty string"));
    expect(() => mintToken({ ...grant, channels: ["ro*om"] }, SECRET)).toThrow(
      "failed to mint token: channels has an invalid pattern at position 1: a pattern is a channel name",
    );
    expect(() => mintToken({ ...grant, channels: "room:1" as unknown as string[] }, SECRET)).toThrow(
      "failed to mint token: channels must be a list of channel patterns",
    );
    expect(() => mintToken({ ...grant, publish: ["ok", "not ok"] }, SECRET)).toThrow("failed to mint token: publish has an invalid pattern at position 2");
    expect(() => mintToken({ ...grant, ttl: 0 }, SECRET)).toThrow(RangeError);
    expect(() => mintToken({ ...grant, ttl: 1.5 }, SECRET)).toThrow("ttl must be a whole number of seconds");
    expect(() => mintToken(grant, "too short")).toThrow("the secret must be at least 32 bytes");
  });
});

describe("publishHttp", () => {
  test("builds the publish URL under a base with or without a path", () => {
    expect(publishUrl("http://127.0.0.1:8080", "room:1")).toBe("http://127.0.0.1:8080/pub?channel=room%3A1");
    expect(publishUrl("http://127.0.0.1:8080/", "a/b")).toBe("http://127.0.0.1:8080/pub?channel=a%2Fb");
    expect(publishUrl("https://example.test/push/", "a@b")).toBe("https://example.test/push/pub?channel=a%40b");
  });

  test("refuses an invalid channel before sending anything", async () => {
    await expect(publishHttp("http://127.0.0.1:1", "a b", "x")).rejects.toThrow(
      new TypeError("invalid channel name: a name is 1 to 128 characters of A-Z a-z 0-9 _ - . : @ /"),
    );
  });

  describe("errors (against a stand-in server)", () => {
    let server: Server;
    let base: string;
    let answer: (res: ServerResponse) => void = (res) => res.end();

    beforeAll(async () => {
      server = createServer((req: IncomingMessage, res: ServerResponse) => {
        req.resume();
        req.on("end", () => answer(res));
      });
      await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });

    afterAll(async () => {
      await new Promise<void>((done) => server.close(() => done()));
    });

    async function failure(respond: (res: ServerResponse) => void): Promise<PublishError> {
      answer = respond;
      const error = await publishHttp(base, "room:1", "hello", { token: "t" }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PublishError);
      return error as PublishError;
    }

    test("a 403 keeps the status and the gateway's reason", async () => {
      const error = await failure((res) => {
        res.writeHead(403, { "Content-Type": "application/json" });
        res.end('{"error":"token does not grant publish to room:1"}\n');
      });
      expect(error.status).toBe(403);
      expect(error.reason).toBe("token does not grant publish to room:1");
      expect(error.message).toBe("failed to publish to room:1: 403 token does not grant publish to room:1");
      expect(error.retryAfterSeconds).toBeUndefined();
    });

    test("a 503 carries Retry-After", async () => {
      const error = await failure((res) => {
        res.writeHead(503, { "Content-Type": "application/json", "Retry-After": "2" });
        res.end('{"error":"redis is unavailable, try again later"}\n');
      });
      expect(error.status).toBe(503);
      expect(error.retryAfterSeconds).toBe(2);
    });

    test("a body that is not JSON is the reason", async () => {
      const error = await failure((res) => {
        res.writeHead(502, { "Content-Type": "text/html" });
        res.end("<html>bad gateway</html>");
      });
      expect(error.status).toBe(502);
      expect(error.reason).toBe("<html>bad gateway</html>");
    });

    test("an empty body names the status", async () => {
      const error = await failure((res) => {
        res.writeHead(500);
        res.end();
      });
      expect(error.reason).toBe("http status 500");
    });

    test("a 200 that is not the gateway's answer is an error too", async () => {
      const error = await failure((res) => {
        res.writeHead(200, { "Content-Type": "application/json" });
        res.end('{"ok":true}');
      });
      expect(error.status).toBe(200);
      expect(error.reason).toBe("the gateway's answer has no channel and subscribers");
    });

    test("no answer is status 0", async () => {
      const port = await freePort();
      const error = await publishHttp(`http://127.0.0.1:${port}`, "room:1", "x").catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PublishError);
      expect((error as PublishError).status).toBe(0);
      expect((error as PublishError).message).toMatch(/^failed to publish to room:1: .*ECONNREFUSED/);
    });
  });
});

describe("publish (Redis)", () => {
  let dir: string;
  let redis: RedisServer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "pushgate-sdk-"));
    redis = await startRedis("127.0.0.1", await freePort(), dir);
  });

  afterAll(async () => {
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("PUBLISHes the message as-is and resolves to the receiver count", async () => {
    const publisher = createClient({ url: redis.url });
    const subscriber = createClient({ url: redis.url });
    await publisher.connect();
    await subscriber.connect();
    try {
      const received: string[] = [];
      await subscriber.subscribe("room:1", (message) => received.push(message));
      const client: RedisPublisher = publisher; // a node-redis client is a RedisPublisher
      expect(await publish(client, "room:1", "héllo ☃")).toBe(1);
      expect(await publish(client, "room:2", Buffer.from("nobody listens"))).toBe(0);
      for (let i = 0; i < 100 && received.length === 0; i++) {
        await new Promise((done) => setTimeout(done, 10));
      }
      expect(received).toEqual(["héllo ☃"]);
    } finally {
      await subscriber.quit();
      await publisher.quit();
    }
  });

  test("refuses an invalid channel before sending anything", async () => {
    const sent: string[] = [];
    const fake: RedisPublisher = { publish: async (channel) => (sent.push(channel), 0) };
    await expect(publish(fake, "", "x")).rejects.toThrow(TypeError);
    await expect(publish(fake, "x".repeat(129), "x")).rejects.toThrow("invalid channel name");
    expect(sent).toEqual([]);
  });
});
