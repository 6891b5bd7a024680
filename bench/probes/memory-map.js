// Memory-map probe: N idle shared-mode streams (each on its own channel) on one nginx worker with
// PUSHGATE_LUA_HEAP_MAP set; prints the worker's RSS growth per stream (read before the map is
// asked for), then the worker's map of
// where those bytes are (src/host/heapmap.ts): its request pools, and the Lua objects each stream
// holds, by the variable or field that holds them. Usage:
//   bash scripts/build && N=5000 node bench/probes/memory-map.js "$PWD"
// Needs N above 500 (a smaller table of streams would pass for shared module state). Bounded as
// idle-memory.js is: each stream gets its 200 within 10 s, the whole probe ends within 60 s + 5 ms
// per stream, and a refused, failed or late stream fails it (exit 1).
const repo = process.argv[2];
require(`${repo}/build/src/cli/multi.js`);
const h = require(`${repo}/build/test/e2e/harness.js`);
const { idleProbe } = require("./streams");
const { memoryOf } = require(`${repo}/build/bench/lib/machine.js`);
const { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } = require("node:fs");
const { tmpdir } = require("node:os");
const { join } = require("node:path");

const N = +(process.env.N || 5000);
if (N <= 500) {
  console.error("memory-map: N must be above 500");
  process.exit(2);
}
const dir = mkdtempSync(join(tmpdir(), "pushgate-heapmap-"));
chmodSync(dir, 0o777); // the worker runs as nginx's user
process.on("exit", () => rmSync(dir, { recursive: true, force: true }));

const settings = { luaHeapMap: join(dir, "map") };
idleProbe(h, "memory-map", { n: N, maxN: 17000, settings, boundMs: 60000 + N * 5, timeoutMs: 10000 }, async (stack, open, openAll) => {
  for (let i = 0; i < 100; i++) await open(`${stack.base}/sub?key=warm-${i}`);
  await h.sleep(1500);
  const pid = (await stack.status()).workers[0].pid;
  const rss0 = memoryOf([pid]).rssKb;
  await openAll(N, (i) => `${stack.base}/sub?key=idle-${i}`);
  await h.sleep(1500);
  const rss1 = memoryOf([pid]).rssKb; // before the walk, which allocates
  console.log(`${N} idle streams: worker RSS ${((rss1 - rss0) / N).toFixed(2)} KB/stream`);
  const map = join(dir, `map.${pid}`);
  rmSync(map, { force: true }); // asks the worker for a new map (src/host/heapmap.ts)
  for (let i = 0; i < 60 && !existsSync(map); i++) await h.sleep(500);
  await h.sleep(500); // written whole once it appears, but give the write its moment
  console.log(readFileSync(map, "utf8"));
});
