// GET /metrics end to end: the Prometheus text format checked by promtool, the counters moving
// with real traffic in both modes (Redis command times and presence counts included), the
// publisher or admin key when credentials are on, and one scrape by a real Prometheus whose HTTP
// API gives a gateway metric back.

import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eventually, fetchText, freePort, MODES, Stream, useStack, withStack } from "./harness";

const PROMTOOL = "/usr/bin/promtool";
const PROMETHEUS = "/usr/bin/prometheus";

/** promtool's verdict on an exposition: [exit status, what it printed]. */
function promtoolCheck(text: string): [number, string] {
  const run = spawnSync(PROMTOOL, ["check", "metrics"], { input: text, encoding: "utf8", timeout: 10000 });
  return [run.status ?? -1, `${run.stdout}${run.stderr}`];
}

/** The value of the sample written exactly as `sample` (name and labels), or undefined. */
function valueOf(text: string, sample: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${sample} `));
  return line === undefined ? undefined : Number(line.substring(sample.length + 1));
}

async function publish(base: string, channel: string, data: string): Promise<number> {
  return (await fetchText(`${base}/pub?channel=${channel}`, { method: "POST", body: data })).status;
}

describe.each(MODES)("%s mode", (mode) => {
  const stack = useStack({ settings: { mode } });

  test("counts streams, deliveries with their latency and publishes, in a text promtool accepts", async () => {
    const stream = await new Stream(`${stack.base}/sub?key=metrics:a`).open();
    expect(stream.status).toBe(200);
    for (let i = 0; i < 5; i++) {
      expect(await publish(stack.base, "metrics:a", `m${i}`)).toBe(200);
    }
    expect((await stream.waitForMessages(5)).length).toBe(5);
    // the counters reach the dict within a flush (1 s); the histogram counts every delivery
    let text = "";
    expect(
      await eventually(async () => {
        text = (await fetchText(`${stack.base}/metrics`)).body;
        // each worker flushes on its own second: wait for the publishes' worker too
        return (valueOf(text, "pushgate_delivery_latency_seconds_count") ?? 0) >= 5 && (valueOf(text, 'pushgate_publishes_total{result="ok"}') ?? 0) >= 5;
      }, 4000),
    ).toBe(true);
    const answer = await fetchText(`${stack.base}/metrics`);
    expect(answer.status).toBe(200);
    expect(answer.headers["content-type"]).toContain("text/plain; version=0.0.4");
    text = answer.body;
    expect(promtoolCheck(text)).toEqual([0, ""]);
    expect(valueOf(text, 'pushgate_streams_open{transport="chunked"}')).toBe(1);
    expect(valueOf(text, 'pushgate_connects_total{transport="chunked"}')).toBeGreaterThanOrEqual(1);
    expect(valueOf(text, "pushgate_messages_delivered_total")).toBeGreaterThanOrEqual(5);
    expect(valueOf(text, 'pushgate_publishes_total{result="ok"}')).toBeGreaterThanOrEqual(5);
    // loopback, same machine: every delivery within 10 s, most far sooner
    expect(valueOf(text, 'pushgate_delivery_latency_seconds_bucket{le="10"}')).toBe(valueOf(text, "pushgate_delivery_latency_seconds_count"));
    expect(valueOf(text, 'pushgate_info{mode="' + mode + '"}')).toBe(1);

    stream.close();
    expect(
      await eventually(async () => {
        text = (await fetchText(`${stack.base}/metrics`)).body;
        return valueOf(text, 'pushgate_streams_open{transport="chunked"}') === 0;
      }, 4000),
    ).toBe(true);
    expect(valueOf(text, 'pushgate_disconnects_total{reason="client-gone",transport="chunked"}')).toBeGreaterThanOrEqual(1);
  });

  test("times the store's Redis commands and counts presence per worker", async () => {
    const streams = [
      await new Stream(`${stack.base}/sub?key=metrics:p&user=ann`).open(),
      await new Stream(`${stack.base}/sub?key=metrics:p&user=ann`).open(),
      await new Stream(`${stack.base}/sub?key=metrics:p&user=ben`).open(),
      await new Stream(`${stack.base}/sub?key=metrics:p`).open(), // no user: not in presence
    ];
    for (let i = 0; i < 3; i++) {
      expect(await publish(stack.base, "metrics:p", `p${i}`)).toBe(200);
    }
    let text = "";
    expect(
      await eventually(async () => {
        text = (await fetchText(`${stack.base}/metrics`)).body;
        return valueOf(text, "pushgate_presence_connections") === 3 && (valueOf(text, "pushgate_redis_command_duration_seconds_count") ?? 0) >= 3;
      }, 4000),
    ).toBe(true);
    expect(promtoolCheck(text)).toEqual([0, ""]);
    // ann's two streams count once per worker that holds one
    expect([2, 3]).toContain(valueOf(text, "pushgate_presence_users"));
    const count = valueOf(text, "pushgate_redis_command_duration_seconds_count") ?? 0;
    expect(valueOf(text, 'pushgate_redis_command_duration_seconds_bucket{le="+Inf"}')).toBe(count);
    // loopback Redis: every store operation within 10 s, and the sum is a real duration
    expect(valueOf(text, 'pushgate_redis_command_duration_seconds_bucket{le="10"}')).toBe(count);
    expect(valueOf(text, "pushgate_redis_command_duration_seconds_sum")).toBeGreaterThan(0);
    expect(valueOf(text, "pushgate_redis_command_duration_seconds_sum")).toBeLessThan(count * 10);
    for (const s of streams) {
      s.close();
    }
    expect(
      await eventually(async () => {
        text = (await fetchText(`${stack.base}/metrics`)).body;
        return valueOf(text, "pushgate_presence_connections") === 0 && valueOf(text, "pushgate_presence_users") === 0;
      }, 4000),
    ).toBe(true);
  });

  test("refusals are counted by kind", async () => {
    expect((await fetchText(`${stack.base}/sub?key=metrics:b&since=not-a-cursor`)).status).toBe(400);
    let text = "";
    expect(
      await eventually(async () => {
        text = (await fetchText(`${stack.base}/metrics`)).body;
        return (valueOf(text, 'pushgate_refusals_total{kind="invalid"}') ?? 0) >= 1;
      }, 4000),
    ).toBe(true);
    expect(promtoolCheck(text)[0]).toBe(0);
  });
});

describe("with credentials on", () => {
  test("/metrics needs the publisher key or the admin key; a wrong key counts as an auth failure", async () => {
    const adminKey = "metrics-admin-key-0123456789-abcdefghij";
    await withStack({ settings: { publisherKey: "metrics-secret-key-0123456789-abcdefgh", adminKey } }, async (stack) => {
      expect((await fetchText(`${stack.base}/metrics`)).status).toBe(401);
      expect((await fetchText(`${stack.base}/metrics`, { headers: { Authorization: `Bearer ${adminKey}` } })).status).toBe(200);
      expect((await publish(stack.base, "metrics:x", "no key")) === 401).toBe(true);
      const auth = { Authorization: "Bearer metrics-secret-key-0123456789-abcdefgh" };
      let text = "";
      expect(
        await eventually(async () => {
          const answer = await fetchText(`${stack.base}/metrics`, { headers: auth });
          text = answer.body;
          return answer.status === 200 && (valueOf(text, 'pushgate_auth_failures_total{reason="unauthorized"}') ?? 0) >= 2;
        }, 4000),
      ).toBe(true);
      expect(promtoolCheck(text)).toEqual([0, ""]);
    });
  });
});

describe("a real Prometheus", () => {
  const stack = useStack();

  test("scrapes the gateway and answers a gateway metric through its HTTP API", async () => {
    const stream = await new Stream(`${stack.base}/sub?key=scraped`).open();
    expect(await publish(stack.base, "scraped", "one")).toBe(200);
    expect((await stream.waitForMessages(1)).length).toBe(1);
    const dir = mkdtempSync(join(tmpdir(), "pushgate-prometheus-"));
    const port = await freePort();
    const target = stack.base.replace("http://", "");
    writeFileSync(
      join(dir, "prometheus.yml"),
      `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: pushgate\n    metrics_path: /metrics\n    static_configs:\n      - targets: ["${target}"]\n`,
    );
    const prometheus = spawn(
      PROMETHEUS,
      [`--config.file=${join(dir, "prometheus.yml")}`, `--storage.tsdb.path=${join(dir, "data")}`, `--web.listen-address=127.0.0.1:${port}`],
      { stdio: "ignore" },
    );
    try {
      let answer = "";
      const found = await eventually(
        async () => {
          try {
            const query = encodeURIComponent('pushgate_messages_delivered_total{job="pushgate"}');
            answer = (await fetchText(`http://127.0.0.1:${port}/api/v1/query?query=${query}`)).body;
            const parsed = JSON.parse(answer) as { data?: { result?: Array<{ value: [number, string] }> } };
            const result = parsed.data?.result ?? [];
            return result.length === 1 && Number(result[0].value[1]) >= 1;
          } catch {
            return false;
          }
        },
        20000,
        250,
      );
      expect([found, answer]).toEqual([true, answer]);
      const up = JSON.parse((await fetchText(`http://127.0.0.1:${port}/api/v1/query?query=up`)).body) as {
        data: { result: Array<{ value: [number, string] }> };
      };
      expect(up.data.result.map((r) => r.value[1])).toEqual(["1"]);
    } finally {
      stream.close();
      const exited = new Promise((done) => prometheus.once("exit", done));
      prometheus.kill("SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30000);
});
