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
const { idleProbe } = require("./streams");
const { cpuBetween, cpuSnapshot } = require(`${repo}/build/bench/lib/machine.js`);

const N = +(process.env.N || 5000);
const MAX_N = 17000;
const STREAM_TIMEOUT_MS = 10000;
const SECONDS = +(process.env.SECONDS || 20);
const BOUND_MS = 60000 + SECONDS * 1000 + N * 5;

idleProbe(
  h,
  "idle-cpu",
  { n: N, maxN: MAX_N, settings: JSON.parse(process.env.SETTINGS || "{}"), boundMs: BOUND_MS, timeoutMs: STREAM_TIMEOUT_MS },
  async (stack, open, openAll) => {
    for (let i = 0; i < 100; i++) await open(`${stack.base}/sub?key=warm-${i}`);
    const pid = (await stack.status()).workers[0].pid;
    await openAll(N, () => `${stack.base}/sub?key=idle`);
    await h.sleep(3000); // the opens' own work done
    const before = cpuSnapshot();
    await h.sleep(SECONDS * 1000);
    const used = cpuBetween(before, cpuSnapshot(), { worker: [pid] }).worker;
    console.log(
      `${N} idle streams on one channel: worker CPU ${((used / SECONDS) * 1000).toFixed(1)} ms per second (${((used * 1e6) / SECONDS / N).toFixed(2)} us per stream per second) over ${SECONDS} s`,
    );
  },
);
