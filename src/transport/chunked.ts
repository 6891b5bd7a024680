// Transport: a chunked HTTP response with one JSON line per message (see protocol/frame.ts).

import * as metrics from "../host/metrics";
import { Ending, ENDING_RECONNECT, ENDING_TEXT } from "../protocol/ending";
import { errorLine, HEARTBEAT_LINE, LineFormat, messageLine, noticeLine } from "../protocol/frame";
import { buffer, flush, openStream, write as send } from "../host/http";
import { quoteJson } from "../host/json";
import { keep, newMemo, recall } from "./memo";
import { FLUSH_BYTES, Transport, WriteResult } from "./transport";

/** The last message line built (memo.ts): most deliveries reuse it. */
const memo = newMemo();

export class ChunkedTransport implements Transport {
  /** Bytes written since the last flush. */
  private unflushed = 0;

  constructor(private readonly format: LineFormat) {}

  open(): WriteResult {
    return openStream("application/x-ndjson; charset=utf-8");
  }

  message(channel: string, data: string, id: string | undefined, event?: string, cursor?: string): WriteResult {
    // the cursor is only worth its bytes when it differs from the id (several channels)
    const ownCursor = cursor !== id ? cursor : undefined;
    const format = this.format;
    let frame = recall(memo, format, channel, data, id, event, ownCursor);
    if (frame === undefined) {
      // A conditional among the arguments would make TSTL build them in a vararg table
      // (__TS__SparseArray), which LuaJIT does not compile: 10x the CPU per delivery.
      frame = keep(memo, messageLine(format, channel, data, quoteJson, id, event, ownCursor), format, channel, data, id, event, ownCursor);
    }
    this.unflushed += frame.length;
    if (this.unflushed >= FLUSH_BYTES) {
      this.unflushed = 0;
      return send(frame); // a long burst or backlog waits for a slow client now and then
    }
    return buffer(frame);
  }

  flush(): WriteResult {
    this.unflushed = 0;
    return flush();
  }

  notice(code: string, text: string): WriteResult {
    this.unflushed = 0;
    return send(noticeLine(this.format, code, text, quoteJson));
  }

  heartbeat(): WriteResult {
    this.unflushed = 0;
    return send(HEARTBEAT_LINE);
  }

  close(ending: Ending, text?: string, reconnect?: boolean): void {
    metrics.ending(ending);
    send(errorLine(this.format, text ?? ENDING_TEXT[ending], reconnect ?? ENDING_RECONNECT[ending], quoteJson));
    ngx.eof();
  }
}
