// Lua-heap probe of delivery: 3,000 shared-mode streams on one channel of one worker, then 3
// rounds of 5 messages; the worker's Lua heap (luaKb of /status, garbage included) before and
// after each round, per delivery. About 0 means a delivery allocates nothing (a negative figure:
// a collection ran in between). Usage: bash scripts/build && node bench/probes/delivery-alloc.js "$PWD"
const repo = process.argv[2];
require(`${repo}/build/src/cli/multi.js`);
const h = require(`${repo}/build/test/e2e/harness.js`);
const { openReading } = require("./streams");
(async () => {
  const stack = await h.startStack({ settings: { mode: "shared", workers: "1" } });
  const N = 3000;
  let got = 0;
  const reqs = [];
  await openReading(`${stack.base}/sub?key=fan`, N, reqs, (text) => {
    got += (text.match(/"type":"message"/g) || []).length;
  });
  await h.sleep(1500); // /status figures are a second old at most
  for (let round = 0; round < 3; round++) {
    const before = (await stack.status()).workers[0].luaKb;
    const target = got + N * 5;
    for (let i = 0; i < 5; i++) {
      await stack.client.publish("fan", `m${i}`);
      await h.sleep(100);
    }
    if (!(await h.eventually(() => got >= target, 20000, 10))) {
      console.error(`delivery-alloc: FAILED: ${got} of ${target} deliveries within 20 s`);
      reqs.forEach((r) => r.destroy());
      await stack.stop();
      process.exit(1);
    }
    await h.sleep(1200);
    const after = (await stack.status()).workers[0].luaKb;
    console.log(`5 x ${N} deliveries: Lua heap ${before} -> ${after} KB, ${(((after - before) * 1024) / (N * 5)).toFixed(0)} bytes per delivery`);
  }
  reqs.forEach((r) => r.destroy());
  await stack.stop();
})();
