// Quick fan-out probe: 3,000 shared-mode subscribers on one channel, a 20-message burst, time until
// all are delivered. Usage: bash scripts/build && node bench/probes/fanout-burst.js "$PWD"
// M=100 sets the burst's size; FCALL=1 publishes durably (FCALL pushgate_publish, as the SDK's
// publishDurable does) instead of a plain PUBLISH.
const repo = process.argv[2];
require(`${repo}/build/src/cli/multi.js`);
const h = require(`${repo}/build/test/e2e/harness.js`);
const { openReading } = require("./streams");
(async () => {
  const stack = await h.startStack({ settings: { mode: "shared", workers: "2" } });
  const N = 3000,
    M = +(process.env.M || 20);
  const durable = process.env.FCALL === "1";
  const send = (i) =>
    durable
      ? stack.client.sendCommand([
          "FCALL",
          "pushgate_publish",
          "2",
          "pushgate:{fan}:stream",
          "pushgate:{fan}:meta",
          "fan",
          `m${i} ${Date.now()}`,
          "",
          "1000",
          "86400000",
          "0",
        ])
      : stack.client.publish("fan", `m${i} ${Date.now()}`);
  let got = 0;
  const reqs = [];
  await openReading(`${stack.base}/sub?key=fan`, N, reqs, (text) => {
    got += (text.match(/"type":"message"/g) || []).length;
  });
  await h.sleep(500);
  const t0 = Date.now();
  for (let i = 0; i < M; i++) await send(i);
  await h.eventually(() => got >= N * M, 60000, 10);
  console.log(repo, "delivered", got, "in", Date.now() - t0, "ms");
  reqs.forEach((r) => r.destroy());
  await stack.stop();
})();
