// Latency histogram with logarithmic buckets 1% wide: fixed memory however many samples, cheap to
// record, and mergeable across load-generator processes (they send their buckets over IPC).

const GROWTH = 1.01;
const LOG_GROWTH = Math.log(GROWTH);
/** 1.01^2500 µs is far beyond any time a bounded workload can take. */
const BUCKETS = 2500;

/** A histogram as sent over IPC: non-empty buckets as [index, count] pairs. */
export interface HistogramData {
  buckets: Array<[number, number]>;
  count: number;
  sum: number;
  min: number;
  max: number;
}

export class Histogram {
  private readonly counts = new Float64Array(BUCKETS);
  count = 0;
  sum = 0;
  min = Infinity;
  max = 0;

  /** Records one value (µs); negative values (clock skew) count as 0. */
  record(micros: number): void {
    const value = micros > 0 ? micros : 0;
    const index = value < 1 ? 0 : Math.min(BUCKETS - 1, Math.floor(Math.log(value) / LOG_GROWTH) + 1);
    this.counts[index]++;
    this.count++;
    this.sum += value;
    if (value < this.min) {
      this.min = value;
    }
    if (value > this.max) {
      this.max = value;
    }
  }

  toData(): HistogramData {
    const buckets: Array<[number, number]> = [];
    for (let i = 0; i < BUCKETS; i++) {
      if (this.counts[i] > 0) {
        buckets.push([i, this.counts[i]]);
      }
    }
    return { buckets, count: this.count, sum: this.sum, min: this.count > 0 ? this.min : 0, max: this.max };
  }

  merge(data: HistogramData): void {
    for (const [index, n] of data.buckets) {
      this.counts[index] += n;
    }
    this.count += data.count;
    this.sum += data.sum;
    if (data.count > 0) {
      this.min = Math.min(this.min, data.min);
      this.max = Math.max(this.max, data.max);
    }
  }

  /** The value below which `fraction` of the samples lie (bucket upper bound, ≤ 1% high; max exact). */
  percentile(fraction: number): number {
    if (this.count === 0) {
      return NaN;
    }
    const rank = Math.ceil(fraction * this.count);
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i];
      if (seen >= rank && this.counts[i] > 0) {
        return Math.min(this.max, i === 0 ? 1 : Math.pow(GROWTH, i));
      }
    }
    return this.max;
  }

  static fromData(list: HistogramData[]): Histogram {
    const merged = new Histogram();
    for (const data of list) {
      merged.merge(data);
    }
    return merged;
  }
}
