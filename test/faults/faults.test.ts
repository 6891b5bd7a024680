// Nothing lost, nothing doubled, under injected faults. Clients of every transport (chunked /sub
// on one and two channels, SSE through the `eventsource` package, WebSocket resuming with ?since=
// and with a hello frame, long-poll) each resume after any end, while durable messages go out
// through POST /pub, retried with the same Idempotency-Key until answered. In between: CLIENT
// KILL TYPE pubsub, SIGKILL of an nginx worker, Redis SHUTDOWN and restart (AOF), two reloads.
// Per client: messages lost, doubled and out of order must all be 0, and every stream open at a
// reload must get its restart line within a second. `npm run test:faults` runs it alone.

import { spawnSync } from "node:child_process";
import { childPids } from "../../src/cli/gateway";
import { compareIds } from "../../src/protocol/cursor";
import { eventually, fetchText, luaErrors, sleep, Stack, withStack } from "../e2e/harness";
import { ChunkedClient, LongPollClient, ResumingClient, SseClient, WsClient } from "./resuming";

const MESSAGES = 3000;
const PUBLISH_RATE = 100; // per second: the faults below fall inside the 30 s of publishing
const PER_KIND = 4;
const RELOAD_LINE_MS = 1000;

interface Tally {
  lost: number;
  doubled: number;
  reordered: number;
}

function tally(client: ResumingClient, expected: Map<string, string[]>, channels: string[]): Tally {
  const result = { lost: 0, doubled: 0, reordered: 0 };
  for (const channel of channels) {
    const want = expected.get(channel) ?? [];
    const got = client.received.get(channel) ?? [];
    const seen = new Set(got);
    result.lost += want.filter((id) => !seen.has(id)).length;
    result.doubled += got.length - seen.size;
    for (let i = 1; i < got.length; i++) {
      if (compareIds(got[i], got[i - 1]) <= 0) {
        result.reordered += 1;
      }
    }
  }
  return result;
}

/** Publishes message `n` until the gateway answers it; the same key makes a retry store it once. */
async function publishDurably(base: string, channel: string, n: number): Promise<string> {
  for (;;) {
    try {
      const answer = await fetchText(`${base}/pub?channel=${channel}`, { method: "POST", body: `m${n}`, headers: { "Idempotency-Key": `k${n}` } });
      if (answer.status === 200) {
        return (JSON.parse(answer.body) as { id: string }).id;
      }
    } catch {
      // a killed worker or a reload closed the connection: try again
    }
    await sleep(50);
  }
}

/** The streams open now, and a promise of each one's delay from now to its restart line. */
function reloadDelays(clients: ResumingClient[]): () => number[] {
  const at = Date.now();
  const open = clients.filter((c) => c.connected && !(c instanceof LongPollClient));
  const before = new Map(open.map((c) => [c, c.restartsAt.length]));
  return () => open.map((c) => (c.restartsAt.length > before.get(c)! ? c.restartsAt[before.get(c)!] - at : Infinity));
}

async function faultRun(stack: Stack): Promise<void> {
  const [a, b] = ["fa", "fb"];
  const clients: ResumingClient[] = [];
  for (let i = 0; i < PER_KIND; i++) {
    clients.push(new ChunkedClient(`chunked-one-${i}`, stack.base, [a]));
    clients.push(new ChunkedClient(`chunked-two-${i}`, stack.base, [a, b]));
    clients.push(new SseClient(`sse-${i}`, stack.base, [a, b]));
    clients.push(new WsClient(`ws-since-${i}`, stack.base, [a, b], "since"));
    clients.push(new WsClient(`ws-hello-${i}`, stack.base, [a, b], "hello"));
    clients.push(new LongPollClient(`longpoll-${i}`, stack.base, [a, b]));
  }
  clients.forEach((c) => c.start());
  expect(await eventually(() => clients.every((c) => c.connected), 10000)).toBe(true);
  await sleep(500);

  const expected = new Map<string, string[]>([
    [a, []],
    [b, []],
  ]);
  const reloads: Array<() => number[]> = [];
  const reload = (): void => {
    reloads.push(reloadDelays(clients));
    stack.gateway.reload();
  };
  const faults: Array<[number, () => Promise<void> | void]> = [
    [300, () => void stack.client.sendCommand(["CLIENT", "KILL", "TYPE", "pubsub"])],
    [700, () => process.kill(childPids(stack.gateway.process.pid)[0], "SIGKILL")],
    [1200, () => stack.restartRedis(1000, "shutdown")],
    [1900, reload],
    [2500, reload],
  ];

  const started = Date.now();
  for (let n = 0; n < MESSAGES; n++) {
    const fault = faults[0];
    if (fault !== undefined && n >= fault[0]) {
      faults.shift();
      await fault[1]();
    }
    const channel = n % 2 === 0 ? a : b;
    expected.get(channel)!.push(await publishDurably(stack.base, channel, n));
    const ahead = started + ((n + 1) * 1000) / PUBLISH_RATE - Date.now();
    if (ahead > 0) {
      await sleep(ahead);
    }
  }

  const complete = (): boolean =>
    clients.every((c) => {
      const channels = c.name.startsWith("chunked-one") ? [a] : [a, b];
      return channels.every((ch) => (c.received.get(ch)?.length ?? 0) >= expected.get(ch)!.length);
    });
  await eventually(complete, 20000, 200);
  clients.forEach((c) => c.stop());

  const report: Record<string, Tally> = {};
  for (const c of clients) {
    report[c.name] = tally(c, expected, c.name.startsWith("chunked-one") ? [a] : [a, b]);
  }
  const totals = Object.values(report).reduce(
    (sum, t) => ({ lost: sum.lost + t.lost, doubled: sum.doubled + t.doubled, reordered: sum.reordered + t.reordered }),
    {
      lost: 0,
      doubled: 0,
      reordered: 0,
    },
  );
  const delays = reloads.map((measure) => measure());
  const slow = delays.flat().filter((ms) => ms > RELOAD_LINE_MS);
  // one line for the record: what the fault run counted
  console.log(
    `faults (${stack.settings.mode}): ${JSON.stringify(totals)}; reload line delays ms: ${delays.map((d) => `max ${Math.max(...d)} of ${d.length}`).join(", ")}`,
  );
  const offenders = Object.entries(report).filter(([, t]) => t.lost + t.doubled + t.reordered > 0);
  if (offenders.length > 0) {
    console.log(`faults (${stack.settings.mode}) offenders: ${JSON.stringify(offenders)}`);
  }
  expect(offenders).toEqual([]);
  expect(totals).toEqual({ lost: 0, doubled: 0, reordered: 0 });
  expect(delays.length).toBe(2);
  expect(delays.every((d) => d.length > 0)).toBe(true);
  expect(slow).toEqual([]);
  // the killed worker is the one error the log may hold
  expect(luaErrors(stack.errorLog().replace(/^.*exited on signal 9.*$/gm, ""))).toEqual([]);
}

describe.each(["shared", "direct"] as const)("faults, %s mode", (mode) => {
  test("every client gets every durable message once, in order, and reloads reach every stream within a second", async () => {
    expect(spawnSync("redis-cli", ["--version"]).status).toBe(0);
    await withStack(
      {
        settings: { mode, workers: "2", retryAfterSeconds: "1", heartbeatSeconds: "5" },
        redisArgs: ["--appendonly", "yes", "--appendfsync", "always"],
      },
      faultRun,
    );
  }, 120000);
});
