// Idle-CPU probe: N shared-mode streams on one nginx worker (all on one channel, as a fan-out's
// subscribers are), then the worker's CPU over SECONDS with nothing published: what holding them
// costs by itself (heartbeats, presence refreshes, timers). Usage:
//   bash scripts/build && N=15000 SECONDS=20 node bench/probes/idle-cpu.js "$PWD"
// SETTINGS='{"heartbeatSeconds":"300"}' adds settings (to see what each part costs).
// Bounds as bench/probes/idle-memory.js: N at most 17,000, each stream its 200 within 10 s, the
// whole probe within 60 s + SECONDS + 5 ms per stream; a refused or late stream fails it (exit 1).
const repo = process.argv[2];
require(`${repo}/build/src/cli/multi.js`);
const h = require(`${repo}/build/test/e2e/harness.js`);
const { get } = require("node:http");
const { clearTimeout } = require("node:timers");
const { cpuBetween, cpuSnapshot } = require(`${repo}/build/bench/lib/machine.js`);

const N = +(process.env.N || 5000);
const MAX_N = 17000;
const STREAM_TIMEOUT_MS = 10000;
const SECONDS = +(process.env.SECONDS || 20);
const BOUND_MS = 60000 + SECONDS * 1000 + N * 5;

const failures = {};
const held = [];

/** Opens one stream; resolves true once it has its 200, false (counted in `failures`) otherwise. */
function open(url) {
  return new Promise((done) => {
    let settled = false;
    const settle = (why) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (why !== undefined) failures[why] = (failures[why] || 0) + 1;
      done(why === undefined);
    };
    const timer = setTimeout(() => settle(`no 200 within ${STREAM_TIMEOUT_MS / 1000} s`), STREAM_TIMEOUT_MS);
    const request = get(url, { agent: false }, (res) => settle(res.statusCode === 200 ? undefined : `status ${res.statusCode}`));
    request.on("error", (e) => settle(e.code || e.message));
    held.push(request);
  });
}

(async () => {
  if (!Number.isInteger(N) || N < 1 || N > MAX_N) {
    console.error(`idle-cpu: N must be an integer from 1 to ${MAX_N} (one worker, and this one process holding every stream under 20,000 open files)`);
    process.exit(2);
  }
  const stack = await h.startStack({
    settings: { mode: "shared", workers: "1", workerConnections: `${N + 1000}`, workerRlimitNofile: "20000", ...JSON.parse(process.env.SETTINGS || "{}") },
  });
  let stopping;
  const stop = async (code) => {
    stopping =
      stopping ||
      (async () => {
        held.forEach((r) => r.destroy());
        await stack.stop();
        process.exit(code);
      })();
    return stopping;
  };
  const fail = async (why) => {
    const reasons = Object.entries(failures).map(([reason, n]) => `${n} × ${reason}`);
    const log = stack.errorLog().trim().split("\n").slice(-5).join("\n  ");
    console.error(`idle-cpu: FAILED: ${why}${reasons.length ? `\n  ${reasons.join("\n  ")}` : ""}${log ? `\n  error log (last lines):\n  ${log}` : ""}`);
    await stop(1);
  };
  const bound = setTimeout(() => void fail(`not done within ${Math.round(BOUND_MS / 1000)} s`), BOUND_MS);
  try {
    for (let i = 0; i < 100; i++) await open(`${stack.base}/sub?key=warm-${i}`);
    const pid = (await stack.status()).workers[0].pid;
    for (let b = 0; b < N; b += 500) {
      await Promise.all(Array.from({ length: Math.min(500, N - b) }, () => open(`${stack.base}/sub?key=idle`)));
    }
    if (Object.keys(failures).length > 0) {
      clearTimeout(bound);
      return fail(`not every stream was answered 200`);
    }
    await h.sleep(3000); // the opens' own work done
    const before = cpuSnapshot();
    await h.sleep(SECONDS * 1000);
    const used = cpuBetween(before, cpuSnapshot(), { worker: [pid] }).worker;
    clearTimeout(bound);
    console.log(
      `${N} idle streams on one channel: worker CPU ${((used / SECONDS) * 1000).toFixed(1)} ms per second (${((used * 1e6) / SECONDS / N).toFixed(2)} us per stream per second) over ${SECONDS} s`,
    );
    await stop(0);
  } catch (e) {
    clearTimeout(bound);
    await fail(e.stack || String(e));
  }
})();
