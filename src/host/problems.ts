// The gateway's recent problems for GET /status and the status page: Redis failures, refused
// credentials, a hub that lost Redis. Each worker notes them here (merged when the same message
// repeats before the next flush, at most RECENT_KEPT at a time: a flood costs no dict writes), and
// host/metrics.ts's flush, once a second, appends them to a ring of the last RECENT_KEPT in the
// metrics dict, so one request sees every worker's. Never called on a delivery path.

import * as cjson from "cjson";
import type { Problem } from "../protocol/status";

const DICT = "pushgate_metrics";
/** Recent problems: "e|next" counts them, "e|<n mod RECENT_KEPT>" holds one as JSON. */
export const PREFIX = "e|";
export const RECENT_KEPT = 50;

/** Problems not flushed yet (at most RECENT_KEPT; a repeat of one adds to its count). */
let problems: Problem[] = [];

/** A problem for the recent list of GET /status (not on a delivery path: failures and state changes only). */
export function note(level: "error" | "warn", message: string): void {
  for (const known of problems) {
    if (known.message === message) {
      known.count += 1;
      return;
    }
  }
  if (problems.length < RECENT_KEPT) {
    problems.push({ at: ngx.now(), level, message, count: 1, worker: ngx.worker.id() ?? 0 });
  }
}

/** Appends the problems not flushed yet to the ring (host/metrics.ts flush, once a second). */
export function flush(dict: NgxSharedDict): void {
  if (problems.length === 0) {
    return;
  }
  for (const found of problems) {
    const [next] = dict.incr(`${PREFIX}next`, 1, 0);
    if (next !== undefined) {
      dict.set(`${PREFIX}${next % RECENT_KEPT}`, cjson.encode({ ...found, seq: next }));
    }
  }
  problems = [];
}

/** The recent problems kept in the dict, newest first (flushed once a second by every worker). */
export function recent(): Problem[] {
  const found: Problem[] = [];
  const dict = ngx.shared.get(DICT);
  if (dict === undefined) {
    return found;
  }
  const [next] = dict.get(`${PREFIX}next`);
  if (typeof next !== "number") {
    return found;
  }
  for (let seq = next; seq > 0 && seq > next - RECENT_KEPT; seq--) {
    const [text] = dict.get(`${PREFIX}${seq % RECENT_KEPT}`);
    if (typeof text === "string") {
      const entry = cjson.decode(text) as Problem & { seq: number };
      if (entry.seq === seq) {
        found.push(entry); // else the slot still holds an older one (its writer has not set it yet)
      }
    }
  }
  return found;
}
