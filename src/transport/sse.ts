// Transport: Server-Sent Events (see protocol/sse.ts). A message is an event (named when it was
// published with an event name) whose data is the payload (format "raw") or the JSON line of /sub
// (format "object" or "array", which also carries the channel); its `id:` is the cursor to resume
// from. Notices and the closing reason are `notice` and `error` events.

import * as metrics from "../host/metrics";
import { Ending, ENDING_RECONNECT, ENDING_TEXT } from "../protocol/ending";
import { openStream, write as send } from "../host/http";
import { quoteJson } from "../host/json";
import { LineFormat, messageLine } from "../protocol/frame";
import { errorEvent, HEARTBEAT_EVENT, jsonEvent, messageEvent, noticeEvent, retryField } from "../protocol/sse";
import { keep, newMemo, recall } from "./memo";
import { GatheringTransport } from "./gathering";
import type { Transport, WriteResult } from "./transport";

export type SseFormat = "raw" | LineFormat;

/** The last message event built (memo.ts): most deliveries reuse it. */
const memo = newMemo();

export class SseTransport extends GatheringTransport implements Transport {
  constructor(
    private readonly format: SseFormat,
    private readonly retryMs: number,
  ) {
    super();
  }

  open(): WriteResult {
    const [opened, err] = openStream("text/event-stream; charset=utf-8");
    if (opened === undefined) {
      return $multi(undefined, err);
    }
    return send(retryField(this.retryMs));
  }

  message(channel: string, data: string, id: string | undefined, event?: string, cursor?: string): WriteResult {
    // The SSE id is where to resume after this message: EventSource sends it back as
    // Last-Event-ID when it reconnects (the message id, or channel=id,... on several channels).
    const format = this.format;
    let frame = recall(memo, format, channel, data, id, event, cursor);
    if (frame === undefined) {
      const resumeAt = cursor ?? id;
      const parts =
        format === "raw" ? messageEvent(data, resumeAt, event) : jsonEvent(messageLine(format, channel, data, quoteJson, id, event, cursor), resumeAt);
      frame = keep(memo, table.concat(parts), format, channel, data, id, event, cursor);
    }
    return this.gather(frame);
  }

  notice(code: string, text: string): WriteResult {
    return this.sendNow(noticeEvent(code, text, quoteJson));
  }

  heartbeat(): WriteResult {
    return this.sendNow(HEARTBEAT_EVENT);
  }

  close(ending: Ending, text?: string, reconnect?: boolean): void {
    metrics.ending(ending);
    send(errorEvent(text ?? ENDING_TEXT[ending], reconnect ?? ENDING_RECONNECT[ending], quoteJson));
    ngx.eof();
  }
}
