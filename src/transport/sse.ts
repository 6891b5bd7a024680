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
import type { Transport, WriteResult } from "./transport";

export type SseFormat = "raw" | LineFormat;

export class SseTransport implements Transport {
  constructor(
    private readonly format: SseFormat,
    private readonly retryMs: number,
  ) {}

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
    const resumeAt = cursor ?? id;
    if (this.format === "raw") {
      return send(messageEvent(data, resumeAt, event));
    }
    return send(jsonEvent(messageLine(this.format, channel, data, quoteJson, id, event, cursor), resumeAt));
  }

  notice(code: string, text: string): WriteResult {
    return send(noticeEvent(code, text, quoteJson));
  }

  heartbeat(): WriteResult {
    return send(HEARTBEAT_EVENT);
  }

  close(ending: Ending, text?: string, reconnect?: boolean): void {
    metrics.ending(ending);
    send(errorEvent(text ?? ENDING_TEXT[ending], reconnect ?? ENDING_RECONNECT[ending], quoteJson));
    ngx.eof();
  }
}
