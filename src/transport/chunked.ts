// Transport: a chunked HTTP response with one JSON line per message (see protocol/frame.ts).

import * as metrics from "../host/metrics";
import { Ending, ENDING_RECONNECT, ENDING_TEXT } from "../protocol/ending";
import { errorLine, HEARTBEAT_LINE, LineFormat, messageLine, noticeLine } from "../protocol/frame";
import { openStream, write as send } from "../host/http";
import { quoteJson } from "../host/json";
import type { Transport, WriteResult } from "./transport";

/**
 * The last message line built, and what it was built from. The hub hands one message to every
 * subscriber of the worker in turn, so most lines equal the previous one: reusing it saves two
 * JSON encodings and a string per delivery. (Lua compares strings by reference: cheap.)
 */
let lastFormat: LineFormat | undefined;
let lastChannel: string | undefined;
let lastData: string | undefined;
let lastId: string | undefined;
let lastEvent: string | undefined;
let lastCursor: string | undefined;
let lastLine = "";

function line(format: LineFormat, channel: string, data: string, id: string | undefined, event: string | undefined, cursor: string | undefined): string {
  if (data !== lastData || channel !== lastChannel || id !== lastId || event !== lastEvent || cursor !== lastCursor || format !== lastFormat) {
    lastLine = messageLine(format, channel, data, quoteJson, id, event, cursor);
    lastFormat = format;
    lastChannel = channel;
    lastData = data;
    lastId = id;
    lastEvent = event;
    lastCursor = cursor;
  }
  return lastLine;
}

export class ChunkedTransport implements Transport {
  constructor(private readonly format: LineFormat) {}

  open(): WriteResult {
    return openStream("application/x-ndjson; charset=utf-8");
  }

  message(channel: string, data: string, id: string | undefined, event?: string, cursor?: string): WriteResult {
    // the cursor is only worth its bytes when it differs from the id (several channels)
    const ownCursor = cursor !== id ? cursor : undefined;
    // A conditional among the arguments would make TSTL build them in a vararg table
    // (__TS__SparseArray), which LuaJIT does not compile: 10x the CPU per delivery.
    return send(line(this.format, channel, data, id, event, ownCursor));
  }

  notice(code: string, text: string): WriteResult {
    return send(noticeLine(this.format, code, text, quoteJson));
  }

  heartbeat(): WriteResult {
    return send(HEARTBEAT_LINE);
  }

  close(ending: Ending, text?: string, reconnect?: boolean): void {
    metrics.ending(ending);
    send(errorLine(this.format, text ?? ENDING_TEXT[ending], reconnect ?? ENDING_RECONNECT[ending], quoteJson));
    ngx.eof();
  }
}
