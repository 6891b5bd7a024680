// The Prometheus text exposition format (version 0.0.4) of GET /metrics, pure so the same bytes
// come out of the gateway (Lua) and the tests (Node): a family is its HELP and TYPE lines, then
// its samples; a histogram is its cumulative buckets, sum and count. Names follow Prometheus
// conventions: the pushgate_ prefix, _total for counters, seconds for durations.

/** Upper bounds (s) of the publish → delivery latency buckets, as their `le` labels read. */
export const LATENCY_BUCKETS = ["0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10"];
const LATENCY_BOUNDS_MS = [1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

/** The bucket (0-based; LATENCY_BUCKETS.length for +Inf) of a latency of `ms` milliseconds. */
export function latencyBucket(ms: number): number {
  for (let i = 0; i < LATENCY_BOUNDS_MS.length; i++) {
    if (ms <= LATENCY_BOUNDS_MS[i]) {
      return i;
    }
  }
  return LATENCY_BOUNDS_MS.length;
}

/** One sample: its labels as written between the braces ("" for none), and its value. */
export interface Sample {
  labels: string;
  value: number;
}

/** A label value escaped as the format wants (backslash, double quote, newline). */
export function escapeLabel(value: string): string {
  let out = "";
  for (let i = 0; i < value.length; i++) {
    const c = value.charAt(i);
    if (c === "\\") {
      out += "\\\\";
    } else if (c === '"') {
      out += '\\"';
    } else if (c === "\n") {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

/** `name="value"`, escaped. */
export function label(name: string, value: string): string {
  return `${name}="${escapeLabel(value)}"`;
}

/** A value: integers without a fraction, others with up to 6 decimals (the same in Lua and Node). */
export function formatValue(value: number): string {
  if (value === Math.floor(value)) {
    return value.toFixed(0);
  }
  let text = value.toFixed(6);
  while (text.endsWith("0")) {
    text = text.substring(0, text.length - 1);
  }
  return text.endsWith(".") ? text.substring(0, text.length - 1) : text;
}

function sampleLine(name: string, labels: string, value: number): string {
  return labels === "" ? `${name} ${formatValue(value)}\n` : `${name}{${labels}} ${formatValue(value)}\n`;
}

/** Appends a counter or gauge family to `out`: HELP, TYPE, then its samples in the order given. */
export function family(out: string[], name: string, type: "counter" | "gauge", help: string, samples: Sample[]): void {
  out.push(`# HELP ${name} ${help}\n`, `# TYPE ${name} ${type}\n`);
  for (const sample of samples) {
    out.push(sampleLine(name, sample.labels, sample.value));
  }
}

/**
 * Appends a histogram to `out` from its counts per bucket (not cumulative: one per
 * LATENCY_BUCKETS entry, then +Inf) and the sum of the observations.
 */
export function histogram(out: string[], name: string, help: string, counts: number[], sum: number): void {
  out.push(`# HELP ${name} ${help}\n`, `# TYPE ${name} histogram\n`);
  let total = 0;
  for (let i = 0; i < LATENCY_BUCKETS.length; i++) {
    total += counts[i] ?? 0;
    out.push(sampleLine(`${name}_bucket`, label("le", LATENCY_BUCKETS[i]), total));
  }
  total += counts[LATENCY_BUCKETS.length] ?? 0;
  out.push(sampleLine(`${name}_bucket`, label("le", "+Inf"), total), sampleLine(`${name}_sum`, "", sum), sampleLine(`${name}_count`, "", total));
}
