// A small Redis client for the launcher, the tests and bench (Node): one command on a new
// connection, its RESP reply parsed (errors as RedisErrorReply values), INFO fields, and polling
// until a condition holds. The topologies in cluster.ts and sentinel.ts are driven with it.

import { connect } from "node:net";

export function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

// ---- a minimal RESP client, for set-up and polling (one connection per call) ----

/** An error reply (`-ERR ...`), as a value. */
export class RedisErrorReply {
  constructor(readonly message: string) {}
}

export type Reply = string | number | null | RedisErrorReply | Reply[];

/** Parses one RESP reply at `pos`: the value and the position after it, or undefined when incomplete. */
function parseReply(buffer: Buffer, pos: number): [Reply, number] | undefined {
  const lineEnd = buffer.indexOf("\r\n", pos);
  if (lineEnd < 0) {
    return undefined;
  }
  const type = String.fromCharCode(buffer[pos]);
  const line = buffer.toString("utf8", pos + 1, lineEnd);
  const next = lineEnd + 2;
  switch (type) {
    case "+":
      return [line, next];
    case "-":
      return [new RedisErrorReply(line), next];
    case ":":
      return [Number(line), next];
    case "$": {
      const length = Number(line);
      if (length < 0) {
        return [null, next];
      }
      if (buffer.length < next + length + 2) {
        return undefined;
      }
      return [buffer.toString("utf8", next, next + length), next + length + 2];
    }
    case "*": {
      const count = Number(line);
      if (count < 0) {
        return [null, next];
      }
      const items: Reply[] = [];
      let at = next;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buffer, at);
        if (item === undefined) {
          return undefined;
        }
        items.push(item[0]);
        at = item[1];
      }
      return [items, at];
    }
    default:
      throw new Error(`unexpected RESP type ${JSON.stringify(type)}`);
  }
}

/** Sends one command to host:port and resolves with its reply (an error reply is a value); rejects on I/O failure. */
export function redisCall(host: string, port: number, args: Array<string | number>, timeoutMs = 2000): Promise<Reply> {
  return new Promise((done, fail) => {
    const socket = connect({ host, port });
    let received = Buffer.alloc(0);
    let settled = false;
    const finish = (error: Error | undefined, reply?: Reply): void => {
      if (!settled) {
        settled = true;
        socket.destroy();
        if (error !== undefined) {
          fail(error);
        } else {
          done(reply ?? null);
        }
      }
    };
    socket.setTimeout(timeoutMs, () => finish(new Error(`no reply from ${host}:${port} to ${args[0]} within ${timeoutMs} ms`)));
    socket.on("error", (e) => finish(e));
    socket.on("close", () => finish(new Error(`${host}:${port} closed the connection`)));
    socket.on("connect", () => {
      const parts = args.map((arg) => `${arg}`);
      socket.write(`*${parts.length}\r\n${parts.map((part) => `$${Buffer.byteLength(part)}\r\n${part}\r\n`).join("")}`);
    });
    socket.on("data", (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      try {
        const parsed = parseReply(received, 0);
        if (parsed !== undefined) {
          finish(undefined, parsed[0]);
        }
      } catch (e) {
        finish(e as Error);
      }
    });
  });
}

/** The reply as text, or undefined when the call failed or the reply is not a string. */
export async function callText(host: string, port: number, args: Array<string | number>): Promise<string | undefined> {
  const reply = await redisCall(host, port, args, 1000).catch(() => undefined);
  return typeof reply === "string" ? reply : undefined;
}

/** `field:value` lines of an INFO or CLUSTER INFO reply. */
export function infoFields(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon > 0 && !line.startsWith("#")) {
      fields[line.substring(0, colon)] = line.substring(colon + 1);
    }
  }
  return fields;
}

/** Polls `check` every `stepMs` until it is true; throws naming `what` after `timeoutMs`. */
export async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number, stepMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) {
      return;
    }
    if (Date.now() > deadline) {
      throw new Error(`${what}: not within ${timeoutMs} ms`);
    }
    await sleep(stepMs);
  }
}

// ---- nodes ----
