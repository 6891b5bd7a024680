// Transport: a chunked HTTP response with one JSON line per message (see protocol/frame.ts).

import type { LineFormat } from "../config/schema";
import { errorLine, HEARTBEAT_LINE, messageLine, noticeLine } from "../protocol/frame";
import { quoteJson } from "../host/json";
import type { Transport, WriteResult } from "./transport";

/** Writes `text` and waits until it is handed to the socket (back-pressure on slow clients). */
function send(text: string): WriteResult {
  const [printed, err] = ngx.print(text);
  if (printed === undefined) {
    return $multi(undefined, err);
  }
  return ngx.flush(true);
}

export class ChunkedTransport implements Transport {
  constructor(private readonly format: LineFormat) {}

  open(): WriteResult {
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

  message(channel: string, data: string, _id: string | undefined): WriteResult {
    return send(messageLine(this.format, channel, data, quoteJson));
  }

  notice(code: string, text: string): WriteResult {
    return send(noticeLine(this.format, code, text, quoteJson));
  }

  heartbeat(): WriteResult {
    return send(HEARTBEAT_LINE);
  }

  close(reason: string, reconnect: boolean): void {
    send(errorLine(this.format, reason, reconnect, quoteJson));
    ngx.eof();
  }
}
