// Quick idle-memory probe: N shared-mode streams (each on its own channel) on one nginx worker;
// prints the worker's RSS and Lua heap (from /status) per stream. Usage:
//   bash scripts/build && N=5000 node bench/probes/idle-memory.js "$PWD"
// The one worker gets worker_connections N + 1,000 (the harness default, 8,192, cannot hold more
// streams: past it nginx drops connections), and this process holds every stream under its 20,000
// open files, so N is at most 17,000 (`npm run bench -- --workloads idle` goes further). Bounded in
// time: each stream must get its 200 within 10 s, and the whole probe ends within 60 s + 5 ms per
// stream; a refused, failed or late stream fails the probe (exit 1) with counts by reason and the
// end of nginx's error log, after stopping what it started.
const repo = process.argv[2];
require(`${repo}/build/src/cli/multi.js`);
const h = require(`${repo}/build/test/e2e/harness.js`);
const { get } = require("node:http");
const { clearTimeout } = require("node:timers");
const { memoryOf } = require(`${repo}/build/bench/lib/machine.js`);

const N = +(process.env.N || 5000);
const MAX_N = 17000;
const STREAM_TIMEOUT_MS = 10000;
const BOUND_MS = 60000 + N * 5;

const rssKb = (pid) => memoryOf([pid]).rssKb;
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
    console.error(`idle-memory: N must be an integer from 1 to ${MAX_N} (one worker, and this one process holding every stream under 20,000 open files)`);
    process.exit(2);
  }
  const stack = await h.startStack({ settings: { mode: "shared", workers: "1", workerConnections: `${N + 1000}`, workerRlimitNofile: "20000" } });
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
    console.error(`idle-memory: FAILED: ${why}${reasons.length ? `\n  ${reasons.join("\n  ")}` : ""}${log ? `\n  error log (last lines):\n  ${log}` : ""}`);
    await stop(1);
  };
  const bound = setTimeout(() => void fail(`not done within ${Math.round(BOUND_MS / 1000)} s`), BOUND_MS);
  try {
    for (let i = 0; i < 100; i++) await open(`${stack.base}/sub?key=warm-${i}`);
    await h.sleep(1500); // /status figures are a second old at most
    const before = await stack.status();
    const rss0 = rssKb(before.workers[0].pid);
    for (let b = 0; b < N; b += 500) {
      await Promise.all(Array.from({ length: Math.min(500, N - b) }, (_, i) => open(`${stack.base}/sub?key=idle-${b + i}`)));
    }
    if (Object.keys(failures).length > 0) {
      clearTimeout(bound);
      return fail(`not every stream was answered 200`);
    }
    await h.sleep(1500);
    const after = await stack.status();
    const rss1 = rssKb(after.workers[0].pid);
    clearTimeout(bound);
    console.log(
      `${N} idle streams: worker RSS ${((rss1 - rss0) / N).toFixed(2)} KB/stream, of which Lua heap ${((after.workers[0].luaKb - before.workers[0].luaKb) / N).toFixed(2)} KB (garbage included)`,
    );
    await stop(0);
  } catch (e) {
    clearTimeout(bound);
    await fail(e.stack || String(e));
  }
})();
