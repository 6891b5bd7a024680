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
const { idleProbe } = require("./streams");
const { memoryOf } = require(`${repo}/build/bench/lib/machine.js`);

const N = +(process.env.N || 5000);
const MAX_N = 17000;
const STREAM_TIMEOUT_MS = 10000;
const BOUND_MS = 60000 + N * 5;

const rssKb = (pid) => memoryOf([pid]).rssKb;
idleProbe(h, "idle-memory", { n: N, maxN: MAX_N, settings: {}, boundMs: BOUND_MS, timeoutMs: STREAM_TIMEOUT_MS }, async (stack, open, openAll) => {
  for (let i = 0; i < 100; i++) await open(`${stack.base}/sub?key=warm-${i}`);
  await h.sleep(1500); // /status figures are a second old at most
  const before = await stack.status();
  const rss0 = rssKb(before.workers[0].pid);
  await openAll(N, (i) => `${stack.base}/sub?key=idle-${i}`);
  await h.sleep(1500);
  const after = await stack.status();
  const rss1 = rssKb(after.workers[0].pid);
  console.log(
    `${N} idle streams: worker RSS ${((rss1 - rss0) / N).toFixed(2)} KB/stream, of which Lua heap ${((after.workers[0].luaKb - before.workers[0].luaKb) / N).toFixed(2)} KB (garbage included)`,
  );
});
