// Connection-setup probe: N shared-mode streams, each on its own channel, 500 connecting at a
// time over 2 workers; nginx CPU per new stream (from /proc). Usage:
//   bash scripts/build && N=10000 node bench/probes/connect.js "$PWD"
const repo = process.argv[2];
require(`${repo}/build/src/cli/multi.js`);
const h = require(`${repo}/build/test/e2e/harness.js`);
const { get } = require("node:http");
const { readFileSync } = require("node:fs");
const cpuSeconds = (pid) => {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
};
(async () => {
  const stack = await h.startStack({ settings: { mode: "shared", workers: "2" } });
  const pids = (await stack.status()).workers.map((w) => w.pid);
  const N = +(process.env.N || 10000);
  const held = [];
  const before = pids.map(cpuSeconds).reduce((a, b) => a + b);
  const started = Date.now();
  for (let b = 0; b < N; b += 500) {
    const batch = Math.min(500, N - b);
    await Promise.all(
      Array.from({ length: batch }, (_, i) => new Promise((ok) => held.push(get(`${stack.base}/sub?key=c-${b + i}`, { agent: false }, () => ok())))),
    );
  }
  const after = pids.map(cpuSeconds).reduce((a, b) => a + b);
  console.log(`${N} streams in ${Date.now() - started} ms; nginx CPU ${(((after - before) * 1e6) / N).toFixed(0)} us/stream`);
  held.forEach((r) => r.destroy());
  await stack.stop();
})();
