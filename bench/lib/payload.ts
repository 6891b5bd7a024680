// Benchmark messages carry their own publish time, so any process on this machine can measure
// publish→deliver latency from the shared clock: "pg|<epoch>|<seq>|<publish time µs>|" and padding.
// The mark survives both peers' framing unchanged: Pushgate quotes it inside a JSON string (none of
// its characters need escaping), Nchan's http-chunked transport sends the message as-is.

import { performance } from "node:perf_hooks";

const MARK = Buffer.from("pg|", "latin1");
const BAR = 124; // "|"
const ZERO = 48;
const NINE = 57;

/** Wall-clock time in microseconds, comparable across processes (sub-millisecond resolution). */
export function nowMicros(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

/** A message of about `bytes` bytes (never shorter than its mark) stamped with the current time. */
export function makePayload(epoch: number, seq: number, bytes: number): string {
  const head = `pg|${epoch}|${seq}|${nowMicros()}|`;
  return bytes > head.length ? head + "x".repeat(bytes - head.length) : head;
}

/** Receives the marks a scan finds. */
export interface MarkSink {
  onMark(epoch: number, seq: number, publishedMicros: number): void;
}

/**
 * Reports every complete mark in `data` to `sink`. Returns a copy of the tail that may hold a mark
 * cut off by the end of `data` (to be prepended to the next piece), or undefined.
 */
export function scanMarks(data: Buffer, sink: MarkSink): Buffer | undefined {
  let at = data.indexOf(MARK);
  while (at >= 0) {
    let pos = at + MARK.length;
    const fields = [0, 0, 0];
    let field = 0;
    let digits = 0;
    let broken = false;
    while (field < 3) {
      if (pos >= data.length) {
        return Buffer.from(data.subarray(at));
      }
      const c = data[pos++];
      if (c >= ZERO && c <= NINE) {
        fields[field] = fields[field] * 10 + (c - ZERO);
        digits++;
      } else if (c === BAR && digits > 0) {
        field++;
        digits = 0;
      } else {
        broken = true;
        break;
      }
    }
    if (!broken) {
      sink.onMark(fields[0], fields[1], fields[2]);
    }
    at = data.indexOf(MARK, broken ? at + MARK.length : pos);
  }
  // A mark split right inside "pg|" itself: keep the trailing "p" or "pg" that could start one.
  const last = data.length - 1;
  if (last >= 1 && data[last - 1] === MARK[0] && data[last] === MARK[1]) {
    return Buffer.from(data.subarray(last - 1));
  }
  if (last >= 0 && data[last] === MARK[0]) {
    return Buffer.from(data.subarray(last));
  }
  return undefined;
}
