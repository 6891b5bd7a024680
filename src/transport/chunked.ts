// Transport: a chunked HTTP response with one JSON line per message (see protocol/frame.ts).

import * as metrics from "../host/metrics";
import { Ending, ENDING_RECONNECT, ENDING_TEXT } from "../protocol/ending";
import { errorLine, HEARTBEAT_LINE, LineFormat, messageLine, noticeLine } from "../protocol/frame";
import { openStream, write as send } from "../host/http";
import { quoteJson } from "../host/json";
import { keep, newMemo, recall } from "./memo";
import { GatheringTransport } from "./gathering";
import type { Transport, WriteResult } from "./transport";

/** The last message line built (memo.ts): most deliveries reuse it. */
const memo = newMemo();

export class ChunkedTransport extends GatheringTransport implements Transport {
  constructor(private readonly format: LineFormat) {
    super();
  }

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
    return this.gather(frame);
  }

  notice(code: string, text: string): WriteResult {
    return this.sendNow(noticeLine(this.format, code, text, quoteJson));
  }

  heartbeat(): WriteResult {
    return this.sendNow(HEARTBEAT_LINE);
  }

  close(ending: Ending, text?: string, reconnect?: boolean): void {
    metrics.ending(ending);
    send(errorLine(this.format, text ?? ENDING_TEXT[ending], reconnect ?? ENDING_RECONNECT[ending], quoteJson));
    ngx.eof();
  }
}
