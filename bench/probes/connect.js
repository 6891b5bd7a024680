// Connection-setup probe: N shared-mode streams, each on its own channel, 500 connecting at a
// time over 2 workers; nginx CPU per new stream (from /proc). Usage:
//   bash scripts/build && N=10000 node bench/probes/connect.js "$PWD"
const repo = process.argv[2];
require(`${repo}/build/src/cli/multi.js`);
const h = require(`${repo}/build/test/e2e/harness.js`);
const { get } = require("node:http");
const { cpuBetween, cpuSnapshot } = require(`${repo}/build/bench/lib/machine.js`);
(async () => {
  const stack = await h.startStack({ settings: { mode: "shared", workers: "2" } });
  const pids = (await stack.status()).workers.map((w) => w.pid);
  const N = +(process.env.N || 10000);
  const held = [];
  const before = cpuSnapshot();
  const started = Date.now();
  for (let b = 0; b < N; b += 500) {
    const batch = Math.min(500, N - b);
    await Promise.all(
      Array.from({ length: batch }, (_, i) => new Promise((ok) => held.push(get(`${stack.base}/sub?key=c-${b + i}`, { agent: false }, () => ok())))),
    );
  }
  const { nginx } = cpuBetween(before, cpuSnapshot(), { nginx: pids });
  console.log(`${N} streams in ${Date.now() - started} ms; nginx CPU ${((nginx * 1e6) / N).toFixed(0)} us/stream`);
  held.forEach((r) => r.destroy());
  await stack.stop();
})();
