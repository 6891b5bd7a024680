// Publishes over HTTP: a few keep-alive connections, requests pipelined on each, responses counted
// by status. Used for Nchan's publisher location (and Pushgate's POST /pub when asked for).

import { connect, Socket } from "node:net";
import { ResponseHandler, ResponseParser } from "./http-response";
import { Target } from "./protocol";

export interface PostRequest {
  path: string;
  body: string;
}

class Connection implements ResponseHandler {
  private readonly parser = new ResponseParser(this);
  private readonly waiting: Array<(status: number) => void> = [];
  private status = 0;

  constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on("data", (data: Buffer) => this.parser.push(data));
    socket.on("error", () => undefined);
    socket.on("close", () => {
      for (const done of this.waiting.splice(0)) {
        done(0);
      }
    });
  }

  onHead(status: number): void {
    this.status = status;
  }

  onBody(): void {}

  onEnd(): void {
    this.waiting.shift()?.(this.status);
  }

  send(requests: PostRequest[], host: string): Array<Promise<number>> {
    let out = "";
    const answers: Array<Promise<number>> = [];
    for (const request of requests) {
      out += `POST ${request.path} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(request.body)}\r\n\r\n${request.body}`;
      answers.push(new Promise<number>((done) => this.waiting.push(done)));
    }
    this.socket.write(out);
    return answers;
  }

  close(): void {
    this.socket.destroy();
  }
}

/**
 * nginx closes a keep-alive connection after keepalive_requests (default 1000) requests, dropping
 * the rest of a pipeline; a connection carries at most this many.
 */
const REQUESTS_PER_CONNECTION = 900;

/** Connections to open for `requests` requests: up to 8 for small batches, more for large ones. */
export function connectionsFor(requests: number): number {
  return Math.max(Math.min(8, requests), Math.ceil(requests / REQUESTS_PER_CONNECTION));
}

export class HttpPublisher {
  private constructor(
    private readonly connections: Connection[],
    private readonly host: string,
  ) {}

  static async open(target: Target, connections: number): Promise<HttpPublisher> {
    const opened = await Promise.all(
      Array.from(
        { length: connections },
        () =>
          new Promise<Connection>((done, fail) => {
            const socket = connect({ host: target.host, port: target.port });
            socket.once("connect", () => done(new Connection(socket)));
            socket.once("error", fail);
          }),
      ),
    );
    return new HttpPublisher(opened, `${target.host}:${target.port}`);
  }

  /** Sends the requests spread over the connections; resolves with a count per status (0: no answer). */
  async send(requests: PostRequest[]): Promise<Record<string, number>> {
    if (requests.length > this.connections.length * REQUESTS_PER_CONNECTION) {
      throw new Error(`${requests.length} requests need more than ${this.connections.length} connections (nginx closes one after keepalive_requests)`);
    }
    const shares: PostRequest[][] = this.connections.map(() => []);
    requests.forEach((request, i) => shares[i % shares.length].push(request));
    const answers = this.connections.flatMap((connection, i) => (shares[i].length > 0 ? connection.send(shares[i], this.host) : []));
    const statuses: Record<string, number> = {};
    for (const status of await Promise.all(answers)) {
      statuses[`${status}`] = (statuses[`${status}`] ?? 0) + 1;
    }
    return statuses;
  }

  close(): void {
    for (const connection of this.connections) {
      connection.close();
    }
  }
}
