// Transport: a chunked HTTP response with one JSON line per message (see protocol/frame.ts).

import type { LineFormat } from "../config/schema";
import { errorLine, HEARTBEAT_LINE, messageLine, noticeLine } from "../protocol/frame";
import { quoteJson } from "../host/json";

/** Sends the status and headers at once, so the client knows it is subscribed. */
export function open(): LuaMultiReturn<[1] | [undefined, string]> {
  ngx.status = 200;
  ngx.header.set("Content-Type", "application/x-ndjson; charset=utf-8");
  ngx.header.set("Cache-Control", "no-cache, no-store");
  ngx.header.set("X-Accel-Buffering", "no");
  const [sent, err] = ngx.send_headers();
  if (sent === undefined) {
    return $multi(undefined, err);
  }
  ngx.flush(true);
  return $multi(sent);
}

/** Writes one message and waits until it is handed to the socket (back-pressure on slow clients). */
export function write(format: LineFormat, channel: string, data: string): LuaMultiReturn<[1] | [undefined, string]> {
  const [printed, err] = ngx.print(messageLine(format, channel, data, quoteJson));
  if (printed === undefined) {
    return $multi(undefined, err);
  }
  return ngx.flush(true);
}

/** A notice on a stream that goes on (see protocol/frame.ts noticeLine). */
export function notice(format: LineFormat, code: string, message: string): LuaMultiReturn<[1] | [undefined, string]> {
  const [printed, err] = ngx.print(noticeLine(format, code, message, quoteJson));
  if (printed === undefined) {
    return $multi(undefined, err);
  }
  return ngx.flush(true);
}

export function heartbeat(): LuaMultiReturn<[1] | [undefined, string]> {
  ngx.print(HEARTBEAT_LINE);
  return ngx.flush(true);
}

/** Ends the stream with a last line saying why; `reconnect` says whether retrying is right. */
export function close(format: LineFormat, reason: string, reconnect: boolean): void {
  ngx.print(errorLine(format, reason, reconnect, quoteJson));
  ngx.flush(true);
  ngx.eof();
}
