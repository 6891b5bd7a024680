// Server-Sent Events framing (`/sse`, and `/sub` with `Accept: text/event-stream`). Pure: the
// caller passes its runtime's JSON string encoder, so nginx and Node build the same bytes.
// Each function returns fragments for one write (ngx.print takes them without joining).
//
// An event is lines of `field: value` ended by a blank line. A payload is split into one `data:`
// line per line of it; an EventSource joins them with "\n". The format has no escape: a CR or
// CRLF in a payload ends a line like LF does, so it arrives as "\n" (format=object keeps them).

import type { QuoteJson } from "./frame";

/** An idle stream sends a comment: EventSource ignores it, proxies see traffic. */
export const HEARTBEAT_EVENT = ":\n\n";

const LF = "\n";
const CR = "\r";

/**
 * Appends one `field: value` line as three fragments. One push each: a push of several values
 * compiles to a vararg call that LuaJIT does not compile, on the path of every message.
 */
function pushField(out: string[], field: string, value: string): void {
  out.push(field);
  out.push(value);
  out.push(LF);
}

/** `retry:` tells EventSource how long to wait before it reconnects (ms). */
export function retryField(retryMs: number): string {
  return `retry: ${Math.floor(retryMs)}\n\n`;
}

/**
 * Appends the `data:` lines of `data` to `out`: one line per line of the payload, split at LF,
 * CRLF and CR. A value keeps its leading spaces (the space after the colon is the only one
 * EventSource strips) and an empty payload is one empty `data:` line, so the event is still sent.
 */
export function pushDataLines(out: string[], data: string): void {
  let lf = data.indexOf(LF);
  let cr = data.indexOf(CR);
  if (lf < 0 && cr < 0) {
    pushField(out, "data: ", data);
    return;
  }
  let start = 0;
  for (;;) {
    if (lf >= 0 && lf < start) {
      lf = data.indexOf(LF, start);
    }
    if (cr >= 0 && cr < start) {
      cr = data.indexOf(CR, start);
    }
    if (lf < 0 && cr < 0) {
      pushField(out, "data: ", data.substring(start));
      return;
    }
    const end = lf < 0 || (cr >= 0 && cr < lf) ? cr : lf;
    pushField(out, "data: ", data.substring(start, end));
    start = end === cr && lf === cr + 1 ? end + 2 : end + 1;
  }
}

/**
 * One message event. `id` (a message id or cursor) becomes the EventSource's lastEventId and the
 * Last-Event-ID header of its next reconnection; without one, the `id:` line is left out.
 * `event` names the event (listeners of `message` get only unnamed ones).
 */
export function messageEvent(data: string, id: string | undefined, event: string | undefined): string[] {
  const out: string[] = [];
  if (id !== undefined) {
    pushField(out, "id: ", id);
  }
  if (event !== undefined) {
    pushField(out, "event: ", event);
  }
  pushDataLines(out, data);
  out.push(LF);
  return out;
}

/**
 * A message whose data is a JSON line (format=object or array, see frame.ts): JSON has no raw
 * line breaks, so `line` (ending in "\n") is a single `data:` line.
 */
export function jsonEvent(line: string, id: string | undefined): string[] {
  if (id !== undefined) {
    return ["id: ", id, LF, "data: ", line, LF];
  }
  return ["data: ", line, LF];
}

/**
 * A notice on a stream that goes on: `event: notice` with {"notice":"redis-lost","message":"..."}.
 */
export function noticeEvent(code: string, message: string, quote: QuoteJson): string[] {
  return ['event: notice\ndata: {"notice":', quote(code), ',"message":', quote(message), "}\n\n"];
}

/**
 * The last event of a stream the server ends: `event: error` with
 * {"error":"server restart","reconnect":true}. EventSource reconnects by itself after `retry:`.
 * Its own connection errors are also "error" events, without data.
 */
export function errorEvent(message: string, reconnect: boolean, quote: QuoteJson): string[] {
  return ['event: error\ndata: {"error":', quote(message), ',"reconnect":', reconnect ? "true" : "false", "}\n\n"];
}
