// A minimal RESP2 reader and command encoder over a cosocket, for the hub's subscribe-mode
// connection. resty.redis cannot serve there: its read_reply refuses to read while no channel is
// subscribed, and its subscribe() reads the answer itself, which would race the reader thread.

export type RespValue = string | number | RespValue[];

const CRLF = "\r\n";
const BYTE_PLUS = 43; // +
const BYTE_MINUS = 45; // -
const BYTE_COLON = 58; // :
const BYTE_DOLLAR = 36; // $
const BYTE_STAR = 42; // *

/** A command as fragments for sock:send, which writes them in one go: *N $len arg ... */
export function encodeCommand(args: string[]): string[] {
  const fragments: string[] = [`*${args.length}${CRLF}`];
  for (const arg of args) {
    fragments.push(`$${arg.length}${CRLF}`, arg, CRLF);
  }
  return fragments;
}

function readValue(sock: NgxTcpSocket, line: string): LuaMultiReturn<[RespValue] | [undefined, string]> {
  const prefix = string.byte(line, 1);
  if (prefix === BYTE_DOLLAR) {
    const size = tonumber(string.sub(line, 2)) ?? -1;
    if (size < 0) {
      return $multi(""); // a nil bulk string; pub/sub replies carry none
    }
    const [data, err] = sock.receive(size);
    if (data === undefined) {
      return $multi(undefined, err);
    }
    const [, crlfErr] = sock.receive(2);
    if (crlfErr !== undefined) {
      return $multi(undefined, crlfErr);
    }
    return $multi(data);
  }
  if (prefix === BYTE_STAR) {
    const count = tonumber(string.sub(line, 2)) ?? -1;
    const items: RespValue[] = [];
    for (let i = 0; i < count; i++) {
      const [itemLine, lineErr] = sock.receive("*l");
      if (itemLine === undefined) {
        return $multi(undefined, lineErr);
      }
      const [item, itemErr] = readValue(sock, itemLine);
      if (item === undefined) {
        return $multi(undefined, itemErr);
      }
      items.push(item);
    }
    return $multi(items);
  }
  if (prefix === BYTE_PLUS) {
    return $multi(string.sub(line, 2));
  }
  if (prefix === BYTE_COLON) {
    return $multi(tonumber(string.sub(line, 2)) ?? 0);
  }
  if (prefix === BYTE_MINUS) {
    return $multi(undefined, `redis error: ${string.sub(line, 2)}`);
  }
  return $multi(undefined, `redis protocol error: unexpected line "${string.sub(line, 1, 32)}"`);
}

/**
 * Reads one reply. Waits up to `idleMs` for it to start ("timeout" if none did: the connection
 * stays usable), then up to `restMs` for the rest of it.
 */
export function readReply(sock: NgxTcpSocket, idleMs: number, restMs: number): LuaMultiReturn<[RespValue] | [undefined, string]> {
  const [line, err] = readFirstLine(sock, idleMs, restMs);
  if (line === undefined) {
    return $multi(undefined, err);
  }
  return readValue(sock, line);
}

/**
 * The first line of a reply (RESP2 or RESP3): waits up to `idleMs` for it to start ("timeout" if
 * none did: the connection stays usable), then up to `restMs` for the rest; the socket is left
 * at `restMs` for the rest of the reply.
 */
export function readFirstLine(sock: NgxTcpSocket, idleMs: number, restMs: number): LuaMultiReturn<[string] | [undefined, string]> {
  sock.settimeout(idleMs);
  const [first, err, partial] = sock.receive("*l");
  let line = first;
  if (line === undefined) {
    if (err !== "timeout") {
      return $multi(undefined, err);
    }
    if (partial === undefined || partial === "") {
      return $multi(undefined, "timeout");
    }
    // The reply had begun when the wait ran out: finish its first line.
    sock.settimeout(restMs);
    const [rest, restErr] = sock.receive("*l");
    if (rest === undefined) {
      return $multi(undefined, restErr);
    }
    line = `${partial}${rest}`;
  }
  sock.settimeout(restMs);
  return $multi(line);
}
