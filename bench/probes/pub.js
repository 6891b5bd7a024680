// POST /pub probe: N shared-mode subscribers of one channel over 2 workers, COUNT durable publishes
// through POST /pub over C keep-alive connections (no publish rate limit, as in the bench); nginx
// CPU per publish (from /proc, deliveries included) and publishes/s. N=0 gives what the request
// itself costs; SETTINGS='{...}' adds settings. Usage:
//   bash scripts/build && N=100 COUNT=10000 C=50 node bench/probes/pub.js "$PWD"
// Bounded: the publishes get 60 s and the deliveries 30 s more; a failed publish or a missing
// delivery fails the probe (exit 1).
const repo = process.argv[2];
require(`${repo}/build/src/cli/multi.js`);
const h = require(`${repo}/build/test/e2e/harness.js`);
const { openReading } = require("./streams");
const { Agent, request } = require("node:http");
const { URL } = require("node:url");
const { cpuBetween, cpuSnapshot } = require(`${repo}/build/bench/lib/machine.js`);

const N = +(process.env.N ?? 100);
const COUNT = +(process.env.COUNT || 10000);
const C = +(process.env.C || 50);

(async () => {
  const extra = JSON.parse(process.env.SETTINGS || "{}"); // e.g. '{"luaProfile":"/tmp/prof/lua"}'
  const stack = await h.startStack({ settings: { mode: "shared", workers: "2", publishRatePerSecond: "0", ...extra } });
  const pids = (await stack.status()).workers.map((w) => w.pid);
  const held = [];
  let delivered = 0;
  await Promise.all(
    Array.from({ length: N }, () => {
      let partial = ""; // this stream's line split across two reads, counted once whole
      return openReading(`${stack.base}/sub?key=pub-probe`, 1, held, (text) => {
        const lines = (partial + text).split("\n");
        partial = lines.pop();
        delivered += lines.filter((line) => line.includes('"data"')).length;
      });
    }),
  );
  await h.sleep(500);
  const agent = new Agent({ keepAlive: true, maxSockets: C });
  const { hostname, port } = new URL(stack.base);
  const failed = {};
  const count = (why) => (failed[why] = (failed[why] || 0) + 1);
  let sent = 0;
  let accepted = 0;
  const publish = () =>
    new Promise((done) => {
      const req = request({ hostname, port, path: "/pub?channel=pub-probe", method: "POST", agent }, (res) => {
        res.resume();
        res.on("end", () => {
          if (res.statusCode >= 200 && res.statusCode < 300) accepted += 1;
          else count(`status ${res.statusCode}`);
          done();
        });
      });
      req.on("error", (e) => {
        count(e.code || e.message);
        done();
      });
      req.end(`m${sent}`);
    });
  const before = cpuSnapshot();
  const started = Date.now();
  const until = started + 60000;
  await Promise.all(
    Array.from({ length: C }, async () => {
      while (sent < COUNT && Date.now() < until) {
        sent += 1;
        await publish();
      }
    }),
  );
  const elapsed = Date.now() - started;
  const arrived = await h.eventually(() => delivered >= N * accepted, 30000, 10);
  const { nginx } = cpuBetween(before, cpuSnapshot(), { nginx: pids });
  console.log(
    `${accepted}/${COUNT} publishes in ${elapsed} ms (${Math.round(accepted / (elapsed / 1000))}/s) to ${N} subscribers; ` +
      `delivered ${delivered}/${N * accepted}; nginx CPU ${((nginx * 1e6) / Math.max(accepted, 1)).toFixed(0)} us/publish`,
  );
  held.forEach((r) => r.destroy());
  agent.destroy();
  await stack.stop();
  const reasons = Object.entries(failed).map(([why, n]) => `${n} × ${why}`);
  if (accepted < COUNT || !arrived) {
    console.error(
      `pub: FAILED: ${reasons.length ? reasons.join(", ") : "not every publish was accepted in time"}${arrived ? "" : "; not every delivery arrived"}`,
    );
    process.exit(1);
  }
})();
