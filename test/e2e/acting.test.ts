// Acting on users across gateways sharing one Redis (the server API's disconnect and revoke, the
// per-user connection cap and the connect-rate limits): two gateways, real nginx and Redis. A
// disconnect ends the user's streams on both gateways, on every transport, with the reason and the
// reconnect flag the client sees; a revoked token is refused on every gateway, also one started
// after the revocation, and its open streams end; the cap counts on both gateways and the slots of
// a gateway killed with SIGKILL expire; connect rates answer 429 with Retry-After.

import { createHmac } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import { Cluster, startCluster } from "../../src/cli/cluster";
import type { GatewayStatus } from "../../src/protocol/status";
import { PushgateApi } from "../../sdk/api";
import { publishHttp } from "../../sdk/http";
import { EventSource } from "eventsource";
import WebSocket from "ws";
import { subscribe, SubscribeOptions, Subscription } from "../../client/src/client";
import { SseClient, WsClient } from "./clients";
import { eventually, fetchText, OwnGateway, startGatewayOn, HttpAnswer, luaErrors, sleep, Stack, startStack, Stream, withStack } from "./harness";

const SECRET = "acting-secret-acting-secret-acting-secret";
const KEY = "acting-publisher-key-acting-publisher-key";
const SETTINGS = { jwtSecret: SECRET, publisherKey: KEY, jwtLeewaySeconds: "0", maxConnectionsPerUser: "4", presenceRefreshSeconds: "0.5" };
/** Streams end within about a second of the order; this much is allowed. */
const END_MS = 1500;

const now = (): number => Math.floor(Date.now() / 1000);

/** An HS256 token with a jti and an issue time (the SDK's mintToken sets no jti). */
function token(sub: string, jti: string, iat = now()): string {
  const part = (value: object): string => Buffer.from(JSON.stringify(value)).toString("base64url");
  const input = `${part({ alg: "HS256", typ: "JWT" })}.${part({ sub, channels: ["room:*", `user:${sub}`], iat, exp: now() + 600, jti })}`;
  return `${input}.${createHmac("sha256", SECRET).update(input).digest("base64url")}`;
}

type Started = OwnGateway;

function startAnother(redisUrl: string, extra: Record<string, string> = {}): Promise<Started> {
  return startGatewayOn(redisUrl, { ...SETTINGS, ...extra });
}

async function stopAnother(started: Started | undefined): Promise<void> {
  await started?.stop();
}

/** What Node lacks for the client library: the WebSocket and EventSource classes. */
const NODE: SubscribeOptions = { WebSocket, EventSource, reconnectMs: 200, maxReconnectMs: 1000 };

/** The last JSON line of a chunked stream. */
function lastLine(stream: Stream): unknown {
  const lines = stream.messages();
  return lines[lines.length - 1];
}

function errorOf(answer: HttpAnswer): [number, string] {
  return [answer.status, answer.status === 200 ? "" : (JSON.parse(answer.body) as { error: string }).error];
}

describe("acting on users across two gateways", () => {
  let stack: Stack;
  let second: Started;
  let api: PushgateApi;
  let secondApi: PushgateApi;

  beforeAll(async () => {
    stack = await startStack({ settings: SETTINGS });
    second = await startAnother(stack.redis.url);
    api = new PushgateApi(stack.base, { key: KEY });
    secondApi = new PushgateApi(second.base, { key: KEY });
  });

  afterAll(async () => {
    const secondLog = second !== undefined ? readFileSync(second.gateway.errorLog, "utf8") : "";
    await stopAnother(second);
    expect(luaErrors(stack.errorLog())).toEqual([]);
    expect(luaErrors(secondLog)).toEqual([]);
    await stack.stop();
  });

  test("disconnect ends the user's streams on both gateways and every transport, with the reason; others go on", async () => {
    const dan = token("dan", "dan-1");
    const dan2 = token("dan", "dan-2");
    const olga = token("olga", "olga-1");
    const chunked = await new Stream(`${stack.base}/sub?key=room:d&token=${dan}`).open();
    const sse = await new SseClient(`${stack.base}/sse?key=room:d&token=${dan2}`).opened();
    const ws = await new WsClient(`${second.base.replace("http", "ws")}/ws?key=room:d&token=${dan}`).open();
    const others = [
      await new Stream(`${stack.base}/sub?key=room:d&token=${olga}`).open(),
      await new Stream(`${second.base}/sub?key=room:d&token=${olga}`).open(),
    ];
    expect([chunked.status, ...others.map((s) => s.status)]).toEqual([200, 200, 200]);
    const poll = fetchText(`${stack.base}/lp?key=room:d&timeout=20&token=${token("dan", "dan-3")}`);
    await sleep(300); // the poll is waiting
    await api.disconnect({ user: "nobody" }); // an order for a user without streams ends nothing
    const started = Date.now();
    const order = await secondApi.disconnect({ user: "dan", reason: "account closed", reconnect: false });
    expect(order.order).toMatch(/^\d+-\d+$/);
    expect(await eventually(() => chunked.ended && ws.closeCode !== undefined && sse.events.some((e) => e.type === "error"), END_MS)).toBe(true);
    expect(Date.now() - started).toBeLessThan(END_MS);
    expect(lastLine(chunked)).toEqual({ type: "error", error: "account closed", reconnect: false });
    expect([ws.closeCode, ws.closeReason]).toEqual([4001, "account closed"]);
    expect(JSON.parse(sse.events.find((e) => e.type === "error")!.data)).toEqual({ error: "account closed", reconnect: false });
    sse.close();
    // told not to come back: 403 (the client library gives up)
    expect(errorOf(await poll)).toEqual([403, "account closed"]);
    // olga's streams on both gateways go on
    await publishHttp(stack.base, "room:d", "still here", { token: KEY });
    for (const stream of others) {
      expect(await stream.waitForMessages(1)).toMatchObject([{ channel: "room:d", data: "still here" }]);
      expect(stream.ended).toBe(false);
      stream.close();
    }
  });

  test("the client library honours the disconnect: closed with the reason when told not to come back, else back again", async () => {
    const transports = ["ws", "sse", "longpoll"] as const;
    const subs: Array<{ sub: Subscription; errors: Error[]; states: string[] }> = transports.map((transport, i) => {
      const sub = subscribe("room:cl", { ...NODE, url: i === 1 ? second.base : stack.base, transport, token: token("cleo", `cleo-${transport}`) });
      const recorded = { sub, errors: [] as Error[], states: [] as string[] };
      sub.on("error", (e) => recorded.errors.push(e));
      sub.on("state", (state) => recorded.states.push(state));
      return recorded;
    });
    const open = await eventually(() => subs.every((r) => r.sub.state === "open"), 5000);
    expect({ open, errors: subs.map((r) => r.errors.map((e) => e.message).join(";")) }).toEqual({ open: true, errors: ["", "", ""] });
    await sleep(300); // the long-poll is waiting
    await api.disconnect({ user: "cleo", reason: "account closed", reconnect: false });
    const closed = await eventually(() => subs.every((r) => r.sub.state === "closed"), 3000);
    subs.forEach((r) => r.sub.close());
    expect({ closed, states: subs.map((r) => r.states.join(",")) }).toEqual({ closed: true, states: ["open,closed", "open,closed", "open,closed"] });
    for (const [i, recorded] of subs.entries()) {
      const transport = transports[i];
      expect({ transport, errors: recorded.errors.map((e) => [e.message.includes("account closed"), (e as { fatal?: boolean }).fatal]) }).toEqual({
        transport,
        errors: [[true, true]],
      });
    }
    // told it may come back, the WebSocket subscription opens again
    const back = subscribe("room:cl", { ...NODE, url: stack.base, transport: "ws", token: token("cleo", "cleo-back") });
    const states: string[] = [];
    back.on("state", (state) => states.push(state));
    expect(await eventually(() => back.state === "open", 5000)).toBe(true);
    await api.disconnect({ user: "cleo", reason: "rebalancing" });
    expect(await eventually(() => states.includes("reconnecting") && back.state === "open", 5000)).toBe(true);
    back.close();
  });

  test("disconnect ends a long-poll waiting on the other gateway; reconnect defaults to true", async () => {
    const lena = token("lena", "lena-1");
    const poll = fetchText(`${second.base}/lp?key=room:l&timeout=20&token=${lena}`);
    const chunked = await new Stream(`${stack.base}/sub?key=room:l&token=${lena}`).open();
    await sleep(300); // the poll is waiting
    const started = Date.now();
    await api.disconnect({ user: "lena", reason: "maintenance" });
    const answer = await poll;
    expect(Date.now() - started).toBeLessThan(END_MS);
    // may come back: 503 with Retry-After, which the client library retries
    expect(errorOf(answer)).toEqual([503, "maintenance"]);
    expect(await eventually(() => chunked.ended, END_MS)).toBe(true);
    expect(lastLine(chunked)).toEqual({ type: "error", error: "maintenance", reconnect: true });
  });

  test("bad params are named", async () => {
    const errorOfCall = async (method: string, params: object): Promise<string> => {
      const answer = await fetchText(`${stack.base}/api`, {
        method: "POST",
        headers: { Authorization: `Bearer ${KEY}` },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
      });
      const parsed = JSON.parse(answer.body) as { error: { code: number; message: string } };
      return `${parsed.error.code} ${parsed.error.message}`;
    };
    expect(await errorOfCall("disconnect", {})).toBe("-32602 invalid params: user is required");
    expect(await errorOfCall("disconnect", { user: "u", reason: "x".repeat(121) })).toBe("-32602 invalid params: reason must be at most 120 bytes");
    expect(await errorOfCall("disconnect", { user: "u", reconnect: "no" })).toBe("-32602 invalid params: reconnect must be true or false");
    expect(await errorOfCall("revoke", {})).toBe("-32602 invalid params: give either jti, or user and before");
    expect(await errorOfCall("revoke", { jti: "a", user: "b", before: 1 })).toBe("-32602 invalid params: give either jti, or user and before");
    expect(await errorOfCall("revoke", { user: "b" })).toBe("-32602 invalid params: before must be a time in seconds since the epoch");
  });

  test("revoke by jti: refused on the other gateway, and the open stream ends", async () => {
    const revoked = token("rita", "rita-revoked");
    const kept = token("rita", "rita-kept");
    const open = await new Stream(`${stack.base}/sub?key=room:r&token=${revoked}`).open();
    const other = await new Stream(`${stack.base}/sub?key=room:r&token=${kept}`).open();
    expect([open.status, other.status]).toEqual([200, 200]);
    await secondApi.revoke({ jti: "rita-revoked" });
    expect(await eventually(() => open.ended, END_MS)).toBe(true);
    expect(lastLine(open)).toEqual({ type: "error", error: "token revoked", reconnect: false });
    expect(other.ended).toBe(false);
    other.close();
    await sleep(600); // one poll of the control stream: every worker of the other gateway has it
    for (let i = 0; i < 4; i++) {
      // every worker refuses it
      expect(errorOf(await fetchText(`${second.base}/sub?key=room:r&token=${revoked}&backlog=0`))).toEqual([401, "token revoked"]);
    }
    const fresh = await new Stream(`${second.base}/sub?key=room:r&token=${kept}`).open();
    expect(fresh.status).toBe(200);
    fresh.close();
  });

  test("a WebSocket refresh with a revoked token is refused; the connection goes on with its own", async () => {
    const ws = await new WsClient(`${stack.base.replace("http", "ws")}/ws?key=room:w&token=${token("wes", "wes-live")}`).open();
    await secondApi.revoke({ jti: "wes-stolen" });
    await sleep(600); // every worker has it
    const answer = await ws.request({ type: "refresh", token: token("wes", "wes-stolen") });
    expect(answer).toMatchObject({ type: "error", error: "token revoked" });
    expect(ws.closeCode).toBeUndefined();
    ws.close();
  });

  test("two gateways racing for a user's last slots: exactly the cap passes", async () => {
    const zed = token("zed", "zed-1");
    const bases = [stack.base, second.base];
    const streams = Array.from({ length: 12 }, (_, i) => new Stream(`${bases[i % 2]}/sub?key=room:z&token=${zed}`));
    await Promise.all(streams.map((s) => s.open()));
    expect(streams.filter((s) => s.status === 200).length).toBe(4);
    expect(streams.filter((s) => s.status === 429).length).toBe(8);
    streams.forEach((s) => s.close());
  });

  test("revoke before a time: older tokens refused and their streams end; a token issued later is let in", async () => {
    const old = token("bea", "bea-old", now() - 100);
    const ws = await new WsClient(`${second.base.replace("http", "ws")}/ws?key=room:b&token=${old}`).open();
    await api.revoke({ user: "bea", before: now() - 10 });
    expect(await eventually(() => ws.closeCode !== undefined, END_MS)).toBe(true);
    // the user may come back with a newer token
    expect([ws.closeCode, ws.closeReason]).toEqual([4000, "token revoked"]);
    await sleep(600);
    expect(errorOf(await fetchText(`${stack.base}/sub?key=room:b&token=${old}`))[0]).toBe(401);
    const newer = await new Stream(`${stack.base}/sub?key=room:b&token=${token("bea", "bea-new")}`).open();
    expect(newer.status).toBe(200);
    newer.close();
  });

  test("a gateway started after the revocations refuses those tokens too", async () => {
    let late: Started | undefined;
    try {
      late = await startAnother(stack.redis.url, { workers: "1" });
      expect(errorOf(await fetchText(`${late.base}/sub?key=room:r&token=${token("rita", "rita-revoked")}`))).toEqual([401, "token revoked"]);
      expect(errorOf(await fetchText(`${late.base}/sub?key=room:b&token=${token("bea", "bea-older", now() - 100)}`))[0]).toBe(401);
    } finally {
      await stopAnother(late);
    }
  });

  test("the connection cap counts on both gateways: 429 with Retry-After, allowed again once a stream ends", async () => {
    const carl = token("carl", "carl-1");
    const first = await new Stream(`${stack.base}/sub?key=room:c&token=${carl}`).open();
    const secondStream = await new Stream(`${stack.base}/sub?key=room:c&token=${carl}`).open();
    const third = await new Stream(`${second.base}/sub?key=room:c&token=${carl}`).open();
    const fourth = await new Stream(`${second.base}/sub?key=room:c&token=${carl}`).open();
    expect([first.status, secondStream.status, third.status, fourth.status]).toEqual([200, 200, 200, 200]);
    const refused = await fetchText(`${second.base}/sub?key=room:c&token=${carl}`);
    expect(errorOf(refused)).toEqual([429, "too many connections for this user: at most 4"]);
    expect(Number(refused.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    first.close();
    let again: Stream | undefined;
    expect(
      await eventually(
        async () => {
          again = await new Stream(`${second.base}/sub?key=room:c&token=${carl}`).open();
          if (again.status !== 200) {
            again.close();
          }
          return again.status === 200;
        },
        3000,
        100,
      ),
    ).toBe(true);
    again?.close();
    secondStream.close();
    third.close();
    fourth.close();
  });

  test("the slots of a gateway killed with SIGKILL expire (refresh 0.5 s: slots live 1.25 s)", async () => {
    const kim = token("kim", "kim-1");
    const doomed = await startAnother(stack.redis.url, { workers: "1" });
    let killed = false;
    try {
      const held = [1, 2, 3, 4].map(() => new Stream(`${doomed.base}/sub?key=room:k&token=${kim}`));
      for (const stream of held) {
        await stream.open();
      }
      expect(held.map((s) => s.status)).toEqual([200, 200, 200, 200]);
      await sleep(1500); // refreshed at least twice: live slots do not expire
      expect(errorOf(await fetchText(`${stack.base}/sub?key=room:k&token=${kim}`))[0]).toBe(429);
      const status = JSON.parse((await fetchText(`${doomed.base}/status`, { headers: { Authorization: `Bearer ${KEY}` } })).body) as GatewayStatus;
      process.kill(doomed.gateway.process.pid ?? 0, "SIGKILL");
      for (const worker of status.workers) {
        process.kill(worker.pid, "SIGKILL");
      }
      killed = true;
      const killedAt = Date.now();
      let admitted: Stream | undefined;
      expect(
        await eventually(
          async () => {
            admitted = await new Stream(`${stack.base}/sub?key=room:k&token=${kim}`).open();
            if (admitted.status !== 200) {
              admitted.close();
            }
            return admitted.status === 200;
          },
          4000,
          100,
        ),
      ).toBe(true);
      expect(Date.now() - killedAt).toBeLessThan(3000);
      admitted?.close();
      held.forEach((s) => s.close());
    } finally {
      if (killed) {
        rmSync(doomed.dir, { recursive: true, force: true });
      } else {
        await stopAnother(doomed);
      }
    }
  });
});

describe("connect-rate limits and direct mode", () => {
  test("per user and per client address, across gateways: 429 with Retry-After until the window frees", async () => {
    await withStack({ settings: { connectRatePerUser: "3", connectRatePerAddress: "5", connectRateWindowSeconds: "2" } }, async (stack) => {
      const other = await startAnother(stack.redis.url, {
        jwtSecret: "",
        publisherKey: "",
        maxConnectionsPerUser: "0",
        connectRatePerUser: "3",
        connectRatePerAddress: "5",
        connectRateWindowSeconds: "2",
      });
      try {
        // wait for a fresh window, so that all of this falls in one
        await sleep(2000 - (Date.now() % 2000) + 50);
        const bases = [stack.base, other.base, stack.base];
        const answers: number[] = [];
        for (const base of bases) {
          answers.push((await fetchText(`${base}/lp?key=r1&user=ray&timeout=0.01`)).status);
        }
        expect(answers).toEqual([200, 200, 200]);
        const refused = await fetchText(`${other.base}/lp?key=r1&user=ray&timeout=0.01`);
        expect(errorOf(refused)).toEqual([429, "too many connects for this user: at most 3 per 2 s"]);
        const retry = Number(refused.headers["retry-after"]);
        expect(retry).toBeGreaterThanOrEqual(1);
        expect(retry).toBeLessThanOrEqual(2);
        // the address: 4 connects so far, one more passes, the next is refused whoever the user
        expect((await fetchText(`${stack.base}/lp?key=r1&user=sam&timeout=0.01`)).status).toBe(200);
        expect(errorOf(await fetchText(`${other.base}/lp?key=r1&user=tom&timeout=0.01`))).toEqual([
          429,
          "too many connects from this address: at most 5 per 2 s",
        ]);
        // the next window lets them in again
        await sleep(retry * 1000);
        expect((await fetchText(`${stack.base}/lp?key=r1&user=ray&timeout=0.01`)).status).toBe(200);
      } finally {
        await stopAnother(other);
      }
      expect(luaErrors(stack.errorLog())).toEqual([]);
    });
  });

  test("disconnect in direct mode ends every transport within the wait", async () => {
    await withStack({ settings: { mode: "direct" } }, async (stack) => {
      const api = new PushgateApi(stack.base);
      const chunked = await new Stream(`${stack.base}/sub?key=room:x&user=dora`).open();
      const sse = await new SseClient(`${stack.base}/sse?key=room:x&user=dora`).opened();
      const ws = await new WsClient(`${stack.base.replace("http", "ws")}/ws?key=room:x&user=dora`).open();
      const poll = fetchText(`${stack.base}/lp?key=room:x&user=dora&timeout=20`);
      const bystander = await new Stream(`${stack.base}/sub?key=room:x&user=eve`).open();
      await sleep(300);
      const started = Date.now();
      await api.disconnect({ user: "dora", reason: "bye", reconnect: false });
      expect(await eventually(() => chunked.ended && ws.closeCode !== undefined && sse.events.some((e) => e.type === "error"), END_MS)).toBe(true);
      expect(errorOf(await poll)).toEqual([403, "bye"]);
      expect(Date.now() - started).toBeLessThan(END_MS);
      expect(lastLine(chunked)).toEqual({ type: "error", error: "bye", reconnect: false });
      expect([ws.closeCode, ws.closeReason]).toEqual([4001, "bye"]);
      sse.close();
      expect(bystander.ended).toBe(false);
      bystander.close();
      expect(luaErrors(stack.errorLog())).toEqual([]);
    });
  });
});

describe("on a Redis Cluster", () => {
  test("two gateways: disconnect, revoke and the cap act across them (the control keys on one slot, a user's on another)", async () => {
    let cluster: Cluster | undefined;
    const started: Started[] = [];
    try {
      cluster = await startCluster({ primaries: 3, replicasPerPrimary: 0, nodeTimeoutMs: 1000 });
      for (let i = 0; i < 2; i++) {
        started.push(await startAnother(cluster.url, { workers: "1", maxConnectionsPerUser: "2" }));
      }
      const [a, b] = started;
      expect(await eventually(async () => (await fetchText(`${b.base}/healthz`)).status === 200, 10000)).toBe(true);
      const api = new PushgateApi(a.base, { key: KEY });
      const one = await new Stream(`${a.base}/sub?key=room:q&token=${token("quin", "quin-1")}`).open();
      const two = await new Stream(`${b.base}/sub?key=room:q&token=${token("quin", "quin-2")}`).open();
      expect([one.status, two.status]).toEqual([200, 200]);
      expect(errorOf(await fetchText(`${a.base}/sub?key=room:q&token=${token("quin", "quin-3")}`))[0]).toBe(429);
      await api.revoke({ jti: "quin-2" });
      expect(await eventually(() => two.ended, END_MS)).toBe(true);
      expect(lastLine(two)).toEqual({ type: "error", error: "token revoked", reconnect: false });
      await api.disconnect({ user: "quin", reason: "moved" });
      expect(await eventually(() => one.ended, END_MS)).toBe(true);
      expect(lastLine(one)).toEqual({ type: "error", error: "moved", reconnect: true });
      await sleep(600);
      expect(errorOf(await fetchText(`${b.base}/sub?key=room:q&token=${token("quin", "quin-2")}`))).toEqual([401, "token revoked"]);
      // the ended streams give their slots back as they finish (a Redis call each): a busy machine may take a moment
      let again: Stream | undefined;
      const admitted = await eventually(
        async () => {
          const attempt = await new Stream(`${b.base}/sub?key=room:q&token=${token("quin", "quin-4")}`).open();
          if (attempt.status === 200) {
            again = attempt;
            return true;
          }
          attempt.close();
          return false;
        },
        5000,
        200,
      );
      expect(admitted).toBe(true);
      again?.close();
      for (const gateway of started) {
        expect(luaErrors(readFileSync(gateway.gateway.errorLog, "utf8"))).toEqual([]);
      }
    } finally {
      for (const gateway of started) {
        await stopAnother(gateway);
      }
      await cluster?.stop();
    }
  }, 60000);
});
