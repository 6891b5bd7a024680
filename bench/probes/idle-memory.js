// Quick idle-memory probe: N shared-mode streams (each on its own channel) on one nginx worker;
// prints the worker's RSS and Lua heap (from /status) per stream. Usage:
//   bash scripts/build && N=5000 node bench/probes/idle-memory.js "$PWD"
const repo = process.argv[2];
require(`${repo}/build/src/cli/multi.js`);
const h = require(`${repo}/build/test/e2e/harness.js`);
const { get } = require("node:http");
const { memoryOf } = require(`${repo}/build/bench/lib/machine.js`);
const rssKb = (pid) => memoryOf([pid]).rssKb;
const open = (url, held) => new Promise((ok) => held.push(get(url, { agent: false }, () => ok())));
(async () => {
  const stack = await h.startStack({ settings: { mode: "shared", workers: "1" } });
  const N = +(process.env.N || 5000);
  const held = [];
  for (let i = 0; i < 100; i++) await open(`${stack.base}/sub?key=warm-${i}`, held);
  await h.sleep(1500); // /status figures are a second old at most
  const before = await stack.status();
  const rss0 = rssKb(before.workers[0].pid);
  for (let b = 0; b < N; b += 500) {
    await Promise.all(Array.from({ length: Math.min(500, N - b) }, (_, i) => open(`${stack.base}/sub?key=idle-${b + i}`, held)));
  }
  await h.sleep(1500);
  const after = await stack.status();
  const rss1 = rssKb(after.workers[0].pid);
  console.log(
    `${N} idle streams: worker RSS ${((rss1 - rss0) / N).toFixed(2)} KB/stream, of which Lua heap ${((after.workers[0].luaKb - before.workers[0].luaKb) / N).toFixed(2)} KB (garbage included)`,
  );
  held.forEach((r) => r.destroy());
  await stack.stop();
})();
