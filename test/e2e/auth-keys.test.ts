// RS256 and ES256 tokens against a real gateway: public keys from PEM files and a JWKS file chosen
// by kid, iss and aud checks, tokens minted with Node's own crypto.sign (test/vectors/node-keys.ts).

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { publishHttp } from "../../sdk/http";
import { parseSettings } from "../../src/config/schema";
import { freePort, startGateway } from "../../src/cli/gateway";
import { fetchText, Stream, useStack } from "./harness";
import { KEYS_DIR, keyFile, mintSigned } from "../vectors/node-keys";

const ISSUER = "https://id.example";
const AUDIENCE = "pushgate";
const PUBLISHER_KEY = "publisher-key-publisher-key-publisher-key";

const now = (): number => Math.floor(Date.now() / 1000);
const claims = (extra: object = {}): object => ({ sub: "alice", channels: ["room:*"], iss: ISSUER, aud: AUDIENCE, exp: now() + 600, ...extra });

/** Status and error of a long-poll that answers at once. */
async function verdict(base: string, token: string, channel = "room:1"): Promise<[number, string]> {
  const answer = await fetchText(`${base}/lp?key=${channel}&timeout=0`, { headers: { Authorization: `Bearer ${token}` } });
  return [answer.status, answer.status === 200 ? "" : (JSON.parse(answer.body) as { error: string }).error];
}

describe("RS256 and ES256 tokens, keys from PEM files and a JWKS file", () => {
  const stack = useStack({
    settings: {
      jwtPublicKeys: `${join(KEYS_DIR, "rsa-1.pem")},main-ec=${join(KEYS_DIR, "ec-1.pem")}`,
      jwksFile: join(KEYS_DIR, "jwks.json"),
      jwtIssuer: ISSUER,
      jwtAudience: AUDIENCE,
      jwtLeewaySeconds: "0",
      publisherKey: PUBLISHER_KEY,
    },
  });

  const families = [
    { alg: "RS256" as const, kid: "rsa-1", key: "rsa-1", other: "rsa-other", from: "PEM file (kid: its base name)" },
    { alg: "ES256" as const, kid: "main-ec", key: "ec-1", other: "ec-other", from: "PEM file (kid=path)" },
    { alg: "RS256" as const, kid: "rsa-jwk", key: "rsa-jwk", other: "rsa-other", from: "JWKS" },
    { alg: "ES256" as const, kid: "ec-jwk", key: "ec-jwk", other: "ec-other", from: "JWKS" },
  ];

  describe.each(families)("$alg from a $from", ({ alg, kid, key, other }) => {
    test("valid: the stream opens and receives", async () => {
      const token = mintSigned(alg, key, { kid }, claims());
      const stream = await new Stream(`${stack.base}/sub?key=room:${kid}`, { Authorization: `Bearer ${token}` }).open();
      expect(stream.status).toBe(200);
      await publishHttp(stack.base, `room:${kid}`, "hello", { token: PUBLISHER_KEY });
      expect(await stream.waitForMessages(1)).toMatchObject([{ channel: `room:${kid}`, data: "hello" }]);
      stream.close();
    });

    test("wrong key, wrong kid, wrong aud, wrong iss, expired: 401 naming why", async () => {
      expect(await verdict(stack.base, mintSigned(alg, other, { kid }, claims()))).toEqual([401, "token signature does not match"]);
      expect(await verdict(stack.base, mintSigned(alg, key, { kid: "unknown" }, claims()))).toEqual([401, "token kid names no configured key"]);
      expect(await verdict(stack.base, mintSigned(alg, key, { kid }, claims({ aud: "someone-else" })))).toEqual([
        401,
        "token aud does not name the configured audience",
      ]);
      expect(await verdict(stack.base, mintSigned(alg, key, { kid }, claims({ iss: "https://evil.example" })))).toEqual([
        401,
        "token iss is not the configured issuer",
      ]);
      expect(await verdict(stack.base, mintSigned(alg, key, { kid }, claims({ exp: now() - 5 })))).toEqual([401, "token expired"]);
    });

    test("a channel outside the grant: 403", async () => {
      expect(await verdict(stack.base, mintSigned(alg, key, { kid }, claims()), "admin")).toEqual([403, "channel admin is not granted by the token"]);
    });
  });

  test("an HS256 token is refused when no secret is set; an RS256 header on an EC key is refused", async () => {
    const [status, error] = await verdict(
      stack.base,
      `${Buffer.from('{"alg":"HS256"}').toString("base64url")}.${Buffer.from(JSON.stringify(claims())).toString("base64url")}.AAAA`,
    );
    expect([status, error]).toEqual([401, "token alg HS256 is not accepted: no secret is configured"]);
    expect(await verdict(stack.base, mintSigned("ES256", "ec-1", { alg: "RS256", kid: "main-ec" }, claims()))).toEqual([
      401,
      "token alg RS256 does not match its key, which is for ES256",
    ]);
  });
});

describe("key files that cannot be used", () => {
  /** What nginx says when it starts with `settings` (it must refuse to). */
  async function refusal(dir: string, settings: Record<string, string>): Promise<string> {
    const runtimeDir = join(dir, `run-${Math.random().toString(36).slice(2)}`);
    const [parsed, err] = parseSettings({ listen: `127.0.0.1:${await freePort()}`, redisUrl: "redis://127.0.0.1:9", runtimeDir, workers: "1", ...settings });
    if (parsed === undefined) {
      throw new Error(err);
    }
    await expect(startGateway(parsed, "ignore")).rejects.toThrow(/exited|rejected/);
    return readFileSync(join(runtimeDir, "logs/error.log"), "utf8");
  }

  test("a missing or unusable key file stops the gateway at start, naming it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pushgate-keys-"));
    try {
      expect(await refusal(dir, { jwtPublicKeys: join(KEYS_DIR, "rsa-small.pem") })).toContain("public key rsa-small: an RSA key of 1024 bits is too small");
      expect(await refusal(dir, { jwksFile: join(dir, "missing.json") })).toMatch(/failed to read .*missing\.json/);
      const bad = join(dir, "bad.json");
      writeFileSync(bad, keyFile("jwks.json").replace('"kid": "rsa-jwk",', ""));
      expect(await refusal(dir, { jwksFile: bad })).toContain("jwks has a RS256 key without kid");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
