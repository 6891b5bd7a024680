// The Prometheus text format of GET /metrics against the shared vectors (test/vectors/metrics.json),
// which test/lua/metrics_spec.lua feeds to the generated Lua.

import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { escapeLabel, family, formatValue, histogram, latencyBucket, Sample } from "../../src/protocol/metrics";

const vectors = JSON.parse(readFileSync(resolve(__dirname, "../../../test/vectors/metrics.json"), "utf8")) as {
  values: Array<{ value: number; text: string }>;
  labels: Array<{ value: string; text: string }>;
  buckets: Array<{ ms: number; bucket: number }>;
  families: Array<{ name: string; type: "counter" | "gauge"; help: string; samples: Sample[]; text: string }>;
  histograms: Array<{ name: string; help: string; counts: number[]; sum: number; text: string }>;
};

test.each(vectors.values.map((v) => [v.value, v.text]))("value %p reads %p", (value, text) => {
  expect(formatValue(value as number)).toBe(text);
});

test.each(vectors.labels.map((v) => [v.value, v.text]))("label value %p escapes to %p", (value, text) => {
  expect(escapeLabel(value)).toBe(text);
});

test.each(vectors.buckets.map((v) => [v.ms, v.bucket]))("a latency of %p ms falls in bucket %p", (ms, bucket) => {
  expect(latencyBucket(ms)).toBe(bucket);
});

test.each(vectors.families.map((v) => [v.name, v]))("family %s", (_name, v) => {
  const out: string[] = [];
  family(out, v.name, v.type, v.help, v.samples);
  expect(out.join("")).toBe(v.text);
});

test.each(vectors.histograms.map((v, i) => [i, v]))("histogram %p", (_i, v) => {
  const out: string[] = [];
  histogram(out, v.name, v.help, v.counts, v.sum);
  expect(out.join("")).toBe(v.text);
});
