// What the probes share: opening streams of a probe's gateway and reading what they receive.
const { get } = require("node:http");
const { clearTimeout } = require("node:timers");

/**
 * Opens one stream (kept in `held`); resolves true once it has its 200, false otherwise, with the
 * reason counted in `failures` (a status, a socket error, or no 200 within `timeoutMs`).
 */
function openBounded(url, held, failures, timeoutMs) {
  return new Promise((done) => {
    let settled = false;
    const settle = (why) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (why !== undefined) failures[why] = (failures[why] || 0) + 1;
      done(why === undefined);
    };
    const timer = setTimeout(() => settle(`no 200 within ${timeoutMs / 1000} s`), timeoutMs);
    const request = get(url, { agent: false }, (res) => settle(res.statusCode === 200 ? undefined : `status ${res.statusCode}`));
    request.on("error", (e) => settle(e.code || e.message));
    held.push(request);
  });
}

/** Opens `n` streams of `url` at once (kept in `held`), each handing what it receives to onText; resolves once all have their headers. */
function openReading(url, n, held, onText) {
  return Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise((ok) => {
          const request = get(url, { agent: false }, (res) => {
            ok();
            res.on("data", (chunk) => onText(chunk.toString()));
          });
          held.push(request);
        }),
    ),
  );
}

/** A probe's own failure: reported by its message alone. */
class ProbeFailure extends Error {}

/**
 * The frame of the idle probes: checks N (1 to maxN), starts one worker for N streams (with
 * `settings` added), then runs body(stack, open, openAll) within boundMs. open(url) opens one stream;
 * openAll(count, url) opens count of them 500 at a time and fails the probe unless all got their
 * 200. A refused or late stream, a throw or the bound fails the probe (exit 1) with the counts by
 * reason and the end of nginx's error log; either way what it started is stopped.
 */
async function idleProbe(h, name, { n, maxN, settings, boundMs, timeoutMs }, body) {
  if (!Number.isInteger(n) || n < 1 || n > maxN) {
    console.error(`${name}: N must be an integer from 1 to ${maxN} (one worker, and this one process holding every stream under 20,000 open files)`);
    process.exit(2);
  }
  const stack = await h.startStack({ settings: { mode: "shared", workers: "1", workerConnections: `${n + 1000}`, workerRlimitNofile: "20000", ...settings } });
  const held = [];
  const failures = {};
  let stopping;
  const stop = async (code) => {
    stopping =
      stopping ||
      (async () => {
        held.forEach((r) => r.destroy());
        await stack.stop();
        process.exit(code);
      })();
    return stopping;
  };
  const fail = async (why) => {
    const reasons = Object.entries(failures).map(([reason, count]) => `${count} × ${reason}`);
    const log = stack.errorLog().trim().split("\n").slice(-5).join("\n  ");
    console.error(`${name}: FAILED: ${why}${reasons.length ? `\n  ${reasons.join("\n  ")}` : ""}${log ? `\n  error log (last lines):\n  ${log}` : ""}`);
    await stop(1);
  };
  const bound = setTimeout(() => void fail(`not done within ${Math.round(boundMs / 1000)} s`), boundMs);
  const open = (url) => openBounded(url, held, failures, timeoutMs);
  const openAll = async (count, url) => {
    for (let b = 0; b < count; b += 500) {
      await Promise.all(Array.from({ length: Math.min(500, count - b) }, (_, i) => open(url(b + i))));
    }
    if (Object.keys(failures).length > 0) {
      throw new ProbeFailure("not every stream was answered 200");
    }
  };
  try {
    await body(stack, open, openAll);
    clearTimeout(bound);
    await stop(0);
  } catch (e) {
    clearTimeout(bound);
    await fail(e instanceof ProbeFailure ? e.message : e.stack || String(e));
  }
}

module.exports = { idleProbe, openBounded, openReading };
