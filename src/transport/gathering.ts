// What the transports over nginx's own response (chunked lines, SSE) share in writing: a message
// is gathered (written without waiting for the socket), and flush() sends what was gathered once
// the stream has nothing more queued; at least every FLUSH_BYTES a message waits for the socket,
// so a slow client holds back a long burst or backlog (back-pressure). A notice or heartbeat goes
// out at once, with what was gathered before it.

import { buffer, flush, write as send } from "../host/http";
import { FLUSH_BYTES, WriteResult } from "./transport";

export abstract class GatheringTransport {
  /** Bytes written since the last flush. */
  private unflushed = 0;

  flush(): WriteResult {
    this.unflushed = 0;
    return flush();
  }

  /** Writes a message's frame, waiting for the socket only every FLUSH_BYTES. */
  protected gather(frame: string): WriteResult {
    this.unflushed += frame.length;
    if (this.unflushed >= FLUSH_BYTES) {
      this.unflushed = 0;
      return send(frame);
    }
    return buffer(frame);
  }

  /** Writes and waits until the socket took it (and what was gathered before). */
  protected sendNow(data: NgxPrintable): WriteResult {
    this.unflushed = 0;
    return send(data);
  }
}
