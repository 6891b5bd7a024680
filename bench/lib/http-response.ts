// Incremental parser of HTTP/1.1 responses read from a raw socket: status line and headers, then
// a body that is chunked, sized by Content-Length, or read until the connection closes. Pipelined
// responses on a keep-alive connection are parsed one after the other. Written for the load
// generator's hot path: no per-chunk closures, a chunk that arrives whole is handed on unsliced.

/** What a parser tells its owner. One object per connection, called for every response on it. */
export interface ResponseHandler {
  /** Status line and headers are in (header names lower-case). */
  onHead(status: number, headers: Record<string, string>): void;
  /**
   * A piece of the body: one whole chunk of a chunked body, or whatever arrived otherwise. Valid
   * only during the call (it may point into a read buffer that is reused).
   */
  onBody(data: Buffer): void;
  /** The response is complete (last chunk, Content-Length reached, or the connection closed). */
  onEnd(): void;
}

const enum State {
  Head,
  ChunkSize,
  ChunkData,
  ChunkEnd,
  Trailers,
  Length,
  UntilClose,
}

const LF = 10;
const HEAD_END = Buffer.from("\r\n\r\n", "latin1");
/** A header block larger than this is not a response we asked for. */
const MAX_HEAD_BYTES = 32768;

export class ResponseParser {
  status = 0;
  headers: Record<string, string> = {};
  private state = State.Head;
  private partialHead: Buffer | undefined;
  private partialLine = "";
  private remaining = 0;
  private pieces: Buffer[] = [];

  constructor(private readonly handler: ResponseHandler) {}

  /** Feeds bytes read from the socket. Throws on a malformed response. */
  push(input: Buffer): void {
    let data = input;
    let pos = 0;
    while (pos < data.length) {
      switch (this.state) {
        case State.Head: {
          if (this.partialHead !== undefined) {
            data = Buffer.concat([this.partialHead, data.subarray(pos)]);
            pos = 0;
            this.partialHead = undefined;
          }
          const end = data.indexOf(HEAD_END, pos);
          if (end < 0) {
            if (data.length - pos > MAX_HEAD_BYTES) {
              throw new Error("response head larger than 32 KB");
            }
            this.partialHead = Buffer.from(data.subarray(pos));
            return;
          }
          this.parseHead(data.toString("latin1", pos, end));
          pos = end + 4;
          break;
        }
        case State.ChunkSize:
        case State.Trailers: {
          const lf = data.indexOf(LF, pos);
          if (lf < 0) {
            this.partialLine += data.toString("latin1", pos);
            if (this.partialLine.length > 1024) {
              throw new Error("chunk size line longer than 1 KB");
            }
            return;
          }
          let line = this.partialLine + data.toString("latin1", pos, lf);
          this.partialLine = "";
          pos = lf + 1;
          if (line.endsWith("\r")) {
            line = line.substring(0, line.length - 1);
          }
          if (this.state === State.Trailers) {
            if (line.length === 0) {
              this.finish();
            }
            break;
          }
          const semicolon = line.indexOf(";");
          const size = parseInt(semicolon < 0 ? line : line.substring(0, semicolon), 16);
          if (!Number.isFinite(size) || size < 0) {
            throw new Error(`bad chunk size line "${line}"`);
          }
          if (size === 0) {
            this.state = State.Trailers;
          } else {
            this.remaining = size;
            this.state = State.ChunkData;
          }
          break;
        }
        case State.ChunkData: {
          const take = Math.min(this.remaining, data.length - pos);
          if (take === this.remaining && this.pieces.length === 0) {
            this.handler.onBody(data.subarray(pos, pos + take));
          } else {
            // a copy: the caller may reuse `data`'s memory for its next read
            this.pieces.push(Buffer.from(data.subarray(pos, pos + take)));
            if (take === this.remaining) {
              const whole = Buffer.concat(this.pieces);
              this.pieces = [];
              this.handler.onBody(whole);
            }
          }
          this.remaining -= take;
          pos += take;
          if (this.remaining === 0) {
            this.remaining = 2; // the CRLF after the chunk data
            this.state = State.ChunkEnd;
          }
          break;
        }
        case State.ChunkEnd: {
          const take = Math.min(this.remaining, data.length - pos);
          this.remaining -= take;
          pos += take;
          if (this.remaining === 0) {
            this.state = State.ChunkSize;
          }
          break;
        }
        case State.Length: {
          const take = Math.min(this.remaining, data.length - pos);
          this.handler.onBody(data.subarray(pos, pos + take));
          this.remaining -= take;
          pos += take;
          if (this.remaining === 0) {
            this.finish();
          }
          break;
        }
        case State.UntilClose: {
          this.handler.onBody(data.subarray(pos));
          return;
        }
      }
    }
  }

  /** The connection closed: a body read until close is complete now. */
  closed(): void {
    if (this.state === State.UntilClose) {
      this.finish();
    }
  }

  private parseHead(head: string): void {
    const lines = head.split("\r\n");
    const statusLine = lines[0];
    if (!statusLine.startsWith("HTTP/1.")) {
      throw new Error(`not an HTTP/1.x status line: "${statusLine.substring(0, 80)}"`);
    }
    this.status = Number(statusLine.substring(9, 12));
    const headers: Record<string, string> = {};
    for (let i = 1; i < lines.length; i++) {
      const colon = lines[i].indexOf(":");
      if (colon > 0) {
        headers[lines[i].substring(0, colon).trim().toLowerCase()] = lines[i].substring(colon + 1).trim();
      }
    }
    this.headers = headers;
    const transferEncoding = headers["transfer-encoding"];
    const contentLength = headers["content-length"];
    this.handler.onHead(this.status, headers);
    if (this.status === 204 || this.status === 304 || (this.status >= 100 && this.status < 200)) {
      this.finish();
    } else if (transferEncoding !== undefined && transferEncoding.toLowerCase().includes("chunked")) {
      this.state = State.ChunkSize;
    } else if (contentLength !== undefined) {
      this.remaining = Number(contentLength);
      if (this.remaining === 0) {
        this.finish();
      } else {
        this.state = State.Length;
      }
    } else {
      this.state = State.UntilClose;
    }
  }

  private finish(): void {
    this.state = State.Head;
    this.handler.onEnd();
  }
}
