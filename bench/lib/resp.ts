// A minimal Redis client for the runner: pipelined commands over one connection, replies in order.
// Enough for PUBLISH bursts, INFO and CONFIG GET; a Redis error reply is a value, not an exception.

import { connect, Socket } from "node:net";

export type Reply = string | number | null | RedisError | Reply[];

export class RedisError {
  constructor(readonly message: string) {}
}

/** Thrown inside the parser when the buffer ends mid-reply; parsing resumes when more arrives. */
const INCOMPLETE = Symbol("incomplete");

function encode(args: string[]): string {
  let out = `*${args.length}\r\n`;
  for (const arg of args) {
    out += `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`;
  }
  return out;
}

export class RespClient {
  private buffer: Buffer = Buffer.alloc(0);
  private readonly waiting: Array<(reply: Reply) => void> = [];
  private failure: Error | undefined;

  private constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on("data", (data: Buffer) => this.onData(data));
    socket.on("error", (e) => (this.failure = e));
    socket.on("close", () => {
      const error = new RedisError(`connection closed${this.failure !== undefined ? `: ${this.failure.message}` : ""}`);
      for (const done of this.waiting.splice(0)) {
        done(error);
      }
    });
  }

  static open(host: string, port: number): Promise<RespClient> {
    return new Promise((done, fail) => {
      const socket = connect({ host, port });
      socket.once("connect", () => done(new RespClient(socket)));
      socket.once("error", fail);
    });
  }

  command(...args: string[]): Promise<Reply> {
    return this.pipeline([args]).then((replies) => replies[0]);
  }

  /** Sends all commands in one write; resolves with their replies in order. */
  pipeline(commands: string[][]): Promise<Reply[]> {
    const replies: Array<Promise<Reply>> = commands.map(() => new Promise<Reply>((done) => this.waiting.push(done)));
    this.socket.write(commands.map(encode).join(""));
    return Promise.all(replies);
  }

  /** A field of INFO (e.g. "connected_clients"), as a number. */
  async info(section: string, field: string): Promise<number> {
    const text = await this.command("INFO", section);
    const match = typeof text === "string" ? new RegExp(`^${field}:(\\S+)`, "m").exec(text) : null;
    return match === null ? NaN : Number(match[1]);
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(data: Buffer): void {
    this.buffer = this.buffer.length === 0 ? data : Buffer.concat([this.buffer, data]);
    let pos = 0;
    while (pos < this.buffer.length && this.waiting.length > 0) {
      let parsed: [Reply, number];
      try {
        parsed = this.parse(pos);
      } catch (e) {
        if (e === INCOMPLETE) {
          break;
        }
        throw e;
      }
      pos = parsed[1];
      this.waiting.shift()!(parsed[0]);
    }
    this.buffer = pos >= this.buffer.length ? Buffer.alloc(0) : this.buffer.subarray(pos);
  }

  private line(pos: number): [string, number] {
    const end = this.buffer.indexOf("\r\n", pos, "latin1");
    if (end < 0) {
      throw INCOMPLETE;
    }
    return [this.buffer.toString("utf8", pos, end), end + 2];
  }

  private parse(pos: number): [Reply, number] {
    const [head, next] = this.line(pos);
    const type = head[0];
    const rest = head.substring(1);
    switch (type) {
      case "+":
        return [rest, next];
      case "-":
        return [new RedisError(rest), next];
      case ":":
        return [Number(rest), next];
      case "$": {
        const length = Number(rest);
        if (length < 0) {
          return [null, next];
        }
        if (next + length + 2 > this.buffer.length) {
          throw INCOMPLETE;
        }
        return [this.buffer.toString("utf8", next, next + length), next + length + 2];
      }
      case "*": {
        const length = Number(rest);
        if (length < 0) {
          return [null, next];
        }
        const items: Reply[] = [];
        let at = next;
        for (let i = 0; i < length; i++) {
          const [item, after] = this.parse(at);
          items.push(item);
          at = after;
        }
        return [items, at];
      }
      default:
        throw new Error(`unexpected Redis reply "${head.substring(0, 40)}"`);
    }
  }
}
