// Transport: WebSocket (RFC 6455). The stream core's pump writes messages as JSON text frames;
// this transport's reader thread parses the client's control frames (protocol/ws.ts), has the
// core's Session carry them out, frames the answers, and pings a silent client. Both write to one socket, one frame at a time: every write takes `writeLock`.

import * as metrics from "../host/metrics";
import semaphore = require("ngx.semaphore");
import type { Settings } from "../config/schema";
import { decodeJson } from "../host/crypto";
import { quoteJson } from "../host/json";
import { buildFrame, handshake, OPCODE_CLOSE, OPCODE_PING, OPCODE_PONG, OPCODE_TEXT, recvFrame } from "../host/websocket";
import { isUtf8 } from "../protocol/utf8";
import {
  CLOSE_GOING_AWAY,
  CLOSE_INTERNAL,
  CLOSE_INVALID_DATA,
  CLOSE_NORMAL,
  CLOSE_POLICY,
  CLOSE_PROTOCOL_ERROR,
  CLOSE_RESTART,
  CLOSE_TOO_BIG,
  errorFrame,
  messageFrame,
  noticeFrame,
  parseControl,
} from "../protocol/ws";
import { Ending, ENDING_RECONNECT, ENDING_TEXT } from "../protocol/ending";
import { keep, newMemo, recall } from "./memo";
import type { DuplexTransport, Session, WriteResult } from "./transport";
import { perform } from "./ws-controls";

/**
 * Ended through the server API (disconnect, revoke), in the range RFC 6455 leaves to applications:
 * 4000 the client may come back, 4001 it should not (as it is: a revoked token, a disconnect with
 * reconnect false). The close reason is the disconnect's reason.
 */
export const CLOSE_ENDED_RECONNECT = 4000;
export const CLOSE_ENDED_FINAL = 4001;

/** The close code of each reason the stream core ends a stream with. */
const ENDING_CODES: Record<Ending, number> = {
  disconnected: CLOSE_ENDED_RECONNECT,
  revoked: CLOSE_ENDED_FINAL,
  restart: CLOSE_RESTART,
  "redis-lost": CLOSE_INTERNAL,
  overflow: CLOSE_POLICY,
  "token-expired": CLOSE_INTERNAL,
  internal: CLOSE_INTERNAL,
};

/** The reader's wait ran out with no frame begun: the connection is fine, the client silent. */
const IDLE = "failed to receive the first 2 bytes: timeout";
/** How long a write may wait for the other thread's write to finish (s). */
const WRITE_WAIT_S = 60;
const SEND_TIMEOUT_MS = 60000;
/** Close frame reasons are at most 123 bytes. */
const CLOSE_REASON_MAX_BYTES = 123;
/** Room for the JSON around a publish frame's data. */
const FRAME_OVERHEAD_BYTES = 65536;

/** The last message frame built, header included (memo.ts): most deliveries reuse it. */
const memo = newMemo();
const MEMO_FORMAT = "ws";

export class WebSocketTransport implements DuplexTransport {
  private sock: NgxTcpSocket | undefined;
  private writeLock: NgxSemaphore | undefined;
  /** A close frame was sent (or the socket failed): nothing more may be written. */
  private closed = false;
  /** Largest message a client may send, all fragments together: a publish of maxMessageBytes, escaped. */
  private readonly maxFrameBytes: number;

  constructor(private readonly settings: Settings) {
    this.maxFrameBytes = settings.maxMessageBytes * 2 + FRAME_OVERHEAD_BYTES;
  }

  open(): WriteResult {
    const [lock, lockErr] = semaphore.new(1);
    if (lock === undefined) {
      return $multi(undefined, `failed to create semaphore: ${lockErr}`);
    }
    this.writeLock = lock;
    const [sock, err] = handshake();
    if (sock === undefined) {
      return $multi(undefined, err);
    }
    const pingMs = this.settings.heartbeatSeconds * 1000;
    sock.settimeouts(pingMs, SEND_TIMEOUT_MS, pingMs);
    this.sock = sock;
    return $multi(1);
  }

  message(channel: string, data: string, id: string | undefined, event?: string, cursor?: string): WriteResult {
    let frame = recall(memo, MEMO_FORMAT, channel, data, id, event, cursor);
    if (frame === undefined) {
      const [built, err] = buildFrame(OPCODE_TEXT, messageFrame(channel, data, id, event, cursor, quoteJson));
      if (built === undefined) {
        return $multi(undefined, err);
      }
      frame = keep(memo, built, MEMO_FORMAT, channel, data, id, event, cursor);
    }
    return this.sendBuilt(frame);
  }

  /** Every frame is sent whole as it is written. */
  flush(): WriteResult {
    return $multi(1);
  }

  notice(code: string, text: string): WriteResult {
    return this.send(OPCODE_TEXT, noticeFrame(code, text, quoteJson));
  }

  heartbeat(): WriteResult {
    return $multi(1); // the reader pings whenever the client has been silent for a heartbeat
  }

  close(ending: Ending, text?: string, reconnect?: boolean): void {
    metrics.ending(ending);
    const again = reconnect ?? ENDING_RECONNECT[ending];
    const code = ending === "disconnected" || ending === "revoked" ? (again ? CLOSE_ENDED_RECONNECT : CLOSE_ENDED_FINAL) : ENDING_CODES[ending];
    this.closeWith(code, text ?? ENDING_TEXT[ending]);
  }

  read(session: Session): void {
    const sock = this.sock!;
    const silentLimit = this.settings.heartbeatSeconds * 2;
    let lastHeard = ngx.now();
    /** Fragments of a message that is still arriving, and their size. */
    let parts: string[] | undefined;
    let partsBytes = 0;
    let partsBinary = false;
    for (;;) {
      const [data, kind, extra] = recvFrame(sock, this.maxFrameBytes);
      if (data === undefined) {
        const err = extra as string;
        if (err !== IDLE) {
          this.failed(err);
          return;
        }
        if (ngx.now() - lastHeard >= silentLimit) {
          this.closeWith(CLOSE_GOING_AWAY, "no answer to ping");
          return;
        }
        const [pinged] = this.send(OPCODE_PING, "");
        if (pinged === undefined) {
          return;
        }
        continue;
      }
      lastHeard = ngx.now();
      let text: string | undefined;
      let binary = false;
      if (kind === "close") {
        this.closeWith(CLOSE_NORMAL, "");
        return;
      } else if (kind === "ping") {
        this.send(OPCODE_PONG, data);
      } else if (kind === "pong") {
        // only proves the client is there
      } else if (kind === "continuation") {
        if (parts === undefined) {
          this.closeWith(CLOSE_PROTOCOL_ERROR, "continuation frame without a message");
          return;
        }
        parts.push(data);
        partsBytes += data.length;
        if (partsBytes > this.maxFrameBytes) {
          this.closeWith(CLOSE_TOO_BIG, "message too large");
          return;
        }
        if (extra !== "again") {
          text = parts.join("");
          binary = partsBinary;
          parts = undefined;
        }
      } else if (parts !== undefined) {
        this.closeWith(CLOSE_PROTOCOL_ERROR, "new message before the last one ended");
        return;
      } else if (extra === "again") {
        parts = [data];
        partsBytes = data.length;
        partsBinary = kind === "binary";
      } else {
        text = data;
        binary = kind === "binary";
      }
      if (text !== undefined && !this.answer(text, binary, session)) {
        return;
      }
    }
  }

  /** Answers one client message; false when the connection must end. */
  private answer(text: string, binary: boolean, session: Session): boolean {
    if (binary) {
      return this.reply(errorFrame("binary frames are not supported: send JSON control frames as text", undefined, quoteJson));
    }
    if (!isUtf8(text)) {
      this.closeWith(CLOSE_INVALID_DATA, "invalid utf-8");
      return false;
    }
    const [decoded, jsonErr] = decodeJson(text);
    if (decoded === undefined) {
      return this.reply(errorFrame(`invalid json: ${jsonErr}`, undefined, quoteJson));
    }
    const [control, controlErr, ref] = parseControl(decoded, this.settings.maxChannels);
    if (control === undefined) {
      return this.reply(errorFrame(controlErr, ref, quoteJson));
    }
    return this.reply(perform(control, session, (frame) => this.reply(frame)));
  }

  private reply(frame: string): boolean {
    const [sent] = this.send(OPCODE_TEXT, frame);
    return sent !== undefined;
  }

  /** A failed read: a client that left, a broken frame, or a frame over the limit. */
  private failed(err: string): void {
    if (string.find(err, "exceeding max payload len", 1, true)[0] !== undefined) {
      this.closeWith(CLOSE_TOO_BIG, "frame too large");
    } else if (string.find(err, "closed", 1, true)[0] === undefined && string.find(err, "timeout", 1, true)[0] === undefined) {
      this.closeWith(CLOSE_PROTOCOL_ERROR, "protocol error");
    }
  }

  /** Sends a close frame (once) and writes nothing after it. */
  private closeWith(code: number, reason: string): void {
    if (this.closed) {
      return;
    }
    const payload = `${string.char(math.floor(code / 256), code % 256)}${string.sub(reason, 1, CLOSE_REASON_MAX_BYTES)}`;
    this.send(OPCODE_CLOSE, payload, true);
  }

  /** Writes one frame; waits while the other thread writes one. `last`: nothing may follow it. */
  private send(opcode: number, payload: string, last = false): WriteResult {
    const [frame, err] = buildFrame(opcode, payload);
    if (frame === undefined) {
      return $multi(undefined, err);
    }
    return this.sendBuilt(frame, last);
  }

  /** Sends a built frame; `last` (a close frame) ends the writing. One write at a time: writeLock. */
  private sendBuilt(frame: string, last = false): WriteResult {
    if (this.closed) {
      return $multi(undefined, "closed");
    }
    const lock = this.writeLock!;
    const [locked] = lock.wait(WRITE_WAIT_S);
    if (!locked) {
      return $multi(undefined, "timed out waiting for another write");
    }
    if (this.closed) {
      lock.post(1); // closed while this write waited
      return $multi(undefined, "closed");
    }
    const [sent, err] = this.sock!.send(frame);
    if (last || sent === undefined) {
      this.closed = true;
    }
    lock.post(1);
    if (sent === undefined) {
      return $multi(undefined, err);
    }
    return $multi(1);
  }
}
