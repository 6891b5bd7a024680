// Paced fan-out probe: N shared-mode subscribers on one channel over 2 workers, M messages one
// every INT ms; nginx CPU per delivery (from /proc) and publish->receive latency. Usage:
//   bash scripts/build && N=3000 M=100 INT=50 node bench/probes/fanout-paced.js "$PWD"
const repo = process.argv[2];
require(`${repo}/build/src/cli/multi.js`);
const h = require(`${repo}/build/test/e2e/harness.js`);
const { openReading } = require("./streams");
const { cpuBetween, cpuSnapshot } = require(`${repo}/build/bench/lib/machine.js`);
(async () => {
  const stack = await h.startStack({ settings: { mode: "shared", workers: "2" } });
  const pids = (await stack.status()).workers.map((w) => w.pid);
  const N = +(process.env.N || 3000);
  const M = +(process.env.M || 100);
  const INT = +(process.env.INT || 50);
  const latencies = [];
  const held = [];
  await openReading(`${stack.base}/sub?key=fan`, N, held, (text) => {
    for (const m of text.matchAll(/"data":"m\d+ (\d+)"/g)) latencies.push(Date.now() - Number(m[1]));
  });
  await h.sleep(500);
  const before = cpuSnapshot();
  for (let i = 0; i < M; i++) {
    await stack.client.publish("fan", `m${i} ${Date.now()}`);
    await h.sleep(INT);
  }
  await h.eventually(() => latencies.length >= N * M, 60000, 10);
  const { nginx } = cpuBetween(before, cpuSnapshot(), { nginx: pids });
  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.floor(latencies.length * q)];
  console.log(
    `delivered ${latencies.length}; nginx CPU ${((nginx * 1e6) / latencies.length).toFixed(1)} us/delivery; latency p50 ${at(0.5)} p99 ${at(0.99)} ms`,
  );
  held.forEach((r) => r.destroy());
  await stack.stop();
})();
