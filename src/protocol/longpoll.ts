// Long-poll answers (`/lp`): one JSON batch per request. Pure: the caller passes its runtime's
// JSON string encoder, so nginx and Node build the same bytes.
//
// {"messages":[{"channel":"a","data":"...","id":"...","event":"..."}],"cursor":"a=...,b=..."}
// `cursor` is what the next poll gives back (?since=) to continue right after this batch: one
// position per channel. "notices" is there only when something happened to the subscription
// (a gap in the history, Redis lost or restored).

import { numberIn } from "./ascii";
import type { QuoteJson } from "./frame";

/**
 * `?timeout=` in seconds (decimals allowed): absent means `maxSeconds`, more is capped to it.
 * Returns the seconds, or undefined and a message fit for a 400 answer.
 */
export function parseTimeout(raw: string | undefined, maxSeconds: number): LuaMultiReturn<[number] | [undefined, string]> {
  if (raw === undefined) {
    return $multi(maxSeconds);
  }
  const seconds = numberIn(raw, 0, 1e9);
  if (seconds === undefined) {
    return $multi(undefined, `invalid timeout: use seconds from 0 to ${maxSeconds}`);
  }
  return $multi(Math.min(seconds, maxSeconds));
}

/** One message of a batch; a durable one has its `id`, and its `event` name when it has one. */
export function batchMessage(channel: string, data: string, id: string | undefined, event: string | undefined, quote: QuoteJson): string {
  if (id === undefined) {
    return `{"channel":${quote(channel)},"data":${quote(data)}}`;
  }
  if (event !== undefined) {
    return `{"channel":${quote(channel)},"data":${quote(data)},"id":${quote(id)},"event":${quote(event)}}`;
  }
  return `{"channel":${quote(channel)},"data":${quote(data)},"id":${quote(id)}}`;
}

/** A notice: {"notice":"redis-lost","message":"..."}. */
export function batchNotice(code: string, message: string, quote: QuoteJson): string {
  return `{"notice":${quote(code)},"message":${quote(message)}}`;
}

/** The whole answer, from the items above. */
export function batchBody(messages: string[], notices: string[], cursor: string | undefined, quote: QuoteJson): string[] {
  const out = ['{"messages":[', messages.join(","), '],"cursor":', cursor === undefined ? "null" : quote(cursor)];
  if (notices.length > 0) {
    out.push(',"notices":[', notices.join(","), "]");
  }
  out.push("}\n");
  return out;
}
