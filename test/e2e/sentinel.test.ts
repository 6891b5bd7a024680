// The gateway behind Redis Sentinel (a primary, one replica, three sentinels, started by the
// test): PUSHGATE_REDIS_URL=redis+sentinel://.../<master name>. Publishing and delivery work; when
// the primary is killed and the sentinels promote the replica, the hub and the store follow it:
// streams get the lost/restored notices and keep receiving, and publishing continues.

import "../../src/cli/multi";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SentinelSetup, startSentinel } from "../../src/cli/sentinel";
import { freePort, Gateway, startGateway } from "../../src/cli/gateway";
import { parseSettings } from "../../src/config/schema";
import { eventually, fetchText, luaErrors, sleep, Stream } from "./harness";

jest.setTimeout(60000);

interface Line {
  type: string;
  channel?: string;
  id?: string;
  data?: string;
  notice?: string;
}

describe("the gateway behind Redis Sentinel (redis+sentinel://)", () => {
  let setup: SentinelSetup;
  let gateway: Gateway;
  let base: string;
  let dir: string;

  /** POST /pub until the gateway takes it (503 while there is no primary); one Idempotency-Key per message. */
  async function publishUntilTaken(channel: string, data: string, key: string): Promise<string> {
    const deadline = Date.now() + 20000;
    for (;;) {
      const answer = await fetchText(`${base}/pub?channel=${channel}`, { method: "POST", body: data, headers: { "Idempotency-Key": key } }).catch(
        () => undefined,
      );
      if (answer?.status === 200) {
        return (JSON.parse(answer.body) as { id: string }).id;
      }
      if (Date.now() > deadline) {
        throw new Error(`publishing ${data} was refused until the deadline: ${answer?.status} ${answer?.body}`);
      }
      await sleep(100);
    }
  }

  beforeAll(async () => {
    setup = await startSentinel({ replicas: 1, sentinels: 3, downAfterMs: 1000, failoverTimeoutMs: 3000 });
    dir = mkdtempSync(join(tmpdir(), "pushgate-sentinel-gw-"));
    const port = await freePort();
    const [settings, err] = parseSettings({ listen: `127.0.0.1:${port}`, redisUrl: setup.url, runtimeDir: join(dir, "nginx"), workers: "2", logLevel: "warn" });
    if (settings === undefined) {
      throw new Error(err);
    }
    gateway = await startGateway(settings, "ignore");
    base = `http://127.0.0.1:${port}`;
  });

  afterAll(async () => {
    const errors = gateway !== undefined ? luaErrors(readFileSync(gateway.errorLog, "utf8")) : [];
    await gateway?.stop();
    await setup?.stop();
    rmSync(dir, { recursive: true, force: true });
    expect(errors).toEqual([]);
  });

  test("delivery and publishing continue after the primary is killed and a replica promoted", async () => {
    const stream = await new Stream(`${base}/sub?key=watched`).open();
    await sleep(300);
    const before = await publishUntilTaken("watched", "before", "s-1");
    expect(await eventually(() => (stream.messages() as Line[]).some((m) => m.id === before))).toBe(true);
    const old = setup.primary();
    await setup.kill(old);
    await setup.waitForNewPrimary(old, 20000);
    const after: string[] = [];
    for (let i = 0; i < 3; i++) {
      after.push(await publishUntilTaken("watched", `after ${i}`, `s-after-${i}`));
    }
    expect(await eventually(() => (stream.messages() as Line[]).filter((m) => m.type === "message").length >= 4, 15000)).toBe(true);
    await sleep(200);
    const lines = stream.messages() as Line[];
    expect(lines.filter((m) => m.type === "message").map((m) => m.id)).toEqual([before, ...after]);
    expect(lines.filter((m) => m.type === "notice").map((m) => m.notice)).toEqual(expect.arrayContaining(["redis-lost", "redis-restored"]));
    stream.close();
  });
});
