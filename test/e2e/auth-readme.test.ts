// README's "Tokens and limits" examples, run as they are printed: the RS256 minting snippet makes a
// token the gateway accepts, the small backend app grants and refuses connections, and a WebSocket
// refresh answers as shown.

import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { freePort } from "../../src/cli/gateway";
import { eventually, fetchText, Stream, withStack } from "./harness";
import { KEYS_DIR } from "../vectors/node-keys";

const README = readFileSync(resolve(__dirname, "../../../README.md"), "utf8");

/** The code block that follows `<!-- readme-test: name -->` in README. */
function block(name: string): string {
  const marker = README.indexOf(`<!-- readme-test: ${name} -->`);
  const start = README.indexOf("\n", README.indexOf("```", marker)) + 1;
  return README.substring(start, README.indexOf("```", start));
}

describe("README, Tokens and limits", () => {
  let dir = "";
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "pushgate-readme-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("the RS256 snippet mints a token the gateway takes, with the key as PUSHGATE_JWT_PUBLIC_KEYS names it", async () => {
    const script = join(dir, "mint.mjs");
    writeFileSync(script, block("mint-rs256"));
    const minted = spawnSync(process.execPath, [script], { env: { ...process.env, KEY_FILE: join(KEYS_DIR, "rsa-1.key.pem") }, encoding: "utf8" });
    expect(minted.stderr).toBe("");
    const token = minted.stdout.trim();
    const settings = {
      jwtPublicKeys: `app-2026=${join(KEYS_DIR, "rsa-1.pem")}`,
      jwtIssuer: "https://id.example",
      jwtAudience: "pushgate",
    };
    await withStack({ settings }, async (stack) => {
      const stream = await new Stream(`${stack.base}/sub?key=user:42,room:lobby`, { Authorization: `Bearer ${token}` }).open();
      expect(stream.status).toBe(200);
      stream.close();
      expect((await fetchText(`${stack.base}/lp?key=user:43&timeout=0`, { headers: { Authorization: `Bearer ${token}` } })).status).toBe(403);
    });
  });

  test("the backend app grants its session's channels and refuses others, through the gateway", async () => {
    const script = join(dir, "app.mjs");
    writeFileSync(script, block("backend-app"));
    const port = await freePort();
    const app = spawn(process.execPath, [script], { env: { ...process.env, PORT: `${port}` }, stdio: "ignore" });
    try {
      await eventually(async () => (await fetchText(`http://127.0.0.1:${port}/`).catch(() => ({ status: 0 }))).status === 401, 5000);
      await withStack({ settings: { authUrl: `http://127.0.0.1:${port}/pushgate-auth` } }, async (stack) => {
        const granted = await fetchText(`${stack.base}/lp?key=user:42,room:1&timeout=0`, { headers: { Cookie: "session=s3cr3t-session-of-42" } });
        expect(granted.status).toBe(200);
        const outside = await fetchText(`${stack.base}/lp?key=user:43&timeout=0`, { headers: { Cookie: "session=s3cr3t-session-of-42" } });
        expect([outside.status, JSON.parse(outside.body)]).toEqual([403, { error: "channel user:43 is not granted by the app" }]);
        const anonymous = await fetchText(`${stack.base}/lp?key=room:1&timeout=0`);
        expect([anonymous.status, JSON.parse(anonymous.body)]).toEqual([401, { error: "please log in" }]);
      });
    } finally {
      app.kill();
    }
  });
});
