// A RESP3 reader over a cosocket, for the hub's shard connections in a Redis Cluster, which carry
// sharded pub/sub and the store's commands on one connection (hub/mux.ts). After `HELLO 3` Redis
// sends pub/sub messages and (s)subscribe confirmations as push frames (`>`), and the replies to
// commands, in order, as ordinary frames: readFrame says which one it read.
//
// Values keep the shapes resty.redis gives for RESP2, so the store reads a reply of the
// multiplexer as it reads one of resty.redis: an error reply (`-` or the blob error `!`) is
// `false, message` (`[false, message]` inside an aggregate), a null (`_`, and RESP2's `$-1`,
// `*-1`) is ngx.null, a map (`%`) a flat array of keys and values, a set (`~`) an array, a double
// (`,`) and a big number (`(`) their text, a boolean (`#`) 1 or 0, a verbatim string (`=`) its
// text without the format prefix; an attribute (`|`) is read and dropped. Commands are written
// with host/resp.ts's encodeCommand.

import { readFirstLine } from "./resp";

export type Resp3Value = string | number | unknown[];

const BYTE_PLUS = 43; // +
const BYTE_MINUS = 45; // -
const BYTE_COLON = 58; // :
const BYTE_DOLLAR = 36; // $
const BYTE_STAR = 42; // *
const BYTE_PUSH = 62; // >
const BYTE_MAP = 37; // %
const BYTE_SET = 126; // ~
const BYTE_NULL = 95; // _
const BYTE_BOOL = 35; // #
const BYTE_DOUBLE = 44; // ,
const BYTE_BIG = 40; // (
const BYTE_VERBATIM = 61; // =
const BYTE_ATTRIBUTE = 124; // |
const BYTE_BLOB_ERROR = 33; // !
/** `=15\r\ntxt:Some string`: the format and its colon come first. */
const VERBATIM_PREFIX = 4;

/** A bulk payload of `line`'s size: its bytes, or undefined and why; `null` for a negative size. */
function readBulk(sock: NgxTcpSocket, line: string): LuaMultiReturn<[string | undefined, string | undefined, boolean]> {
  const size = tonumber(string.sub(line, 2)) ?? -1;
  if (size < 0) {
    return $multi(undefined, undefined, true);
  }
  const [data, err] = sock.receive(size);
  if (data === undefined) {
    return $multi(undefined, err, false);
  }
  const [, crlfErr] = sock.receive(2);
  if (crlfErr !== undefined) {
    return $multi(undefined, crlfErr, false);
  }
  return $multi(data, undefined, false);
}

/** Reads `count` values into `items` (an error value as [false, message]); why it failed, if it did. */
function readItems(sock: NgxTcpSocket, count: number, items: unknown[] | undefined): string | undefined {
  for (let i = 0; i < count; i++) {
    const [itemLine, lineErr] = sock.receive("*l");
    if (itemLine === undefined) {
      return lineErr;
    }
    const [item, itemErr] = readValue(sock, itemLine);
    if (item === undefined) {
      return `${itemErr as string}`;
    }
    if (items !== undefined) {
      items.push(item === false ? [false, itemErr] : item);
    }
  }
  return undefined;
}

/** One value whose first line is `line`: the value, false and an error reply's message, or undefined and why reading failed. */
function readValue(sock: NgxTcpSocket, line: string): LuaMultiReturn<[unknown] | [false, string] | [undefined, string]> {
  const prefix = string.byte(line, 1);
  if (prefix === BYTE_DOLLAR || prefix === BYTE_VERBATIM || prefix === BYTE_BLOB_ERROR) {
    const [data, err, isNull] = readBulk(sock, line);
    if (isNull) {
      return $multi(ngx.null);
    }
    if (data === undefined) {
      return $multi(undefined, `${err}`);
    }
    if (prefix === BYTE_BLOB_ERROR) {
      return $multi(false as const, data);
    }
    return $multi(prefix === BYTE_VERBATIM ? string.sub(data, VERBATIM_PREFIX + 1) : data);
  }
  if (prefix === BYTE_STAR || prefix === BYTE_PUSH || prefix === BYTE_SET || prefix === BYTE_MAP) {
    const count = tonumber(string.sub(line, 2)) ?? -1;
    if (count < 0) {
      return $multi(ngx.null);
    }
    const items: unknown[] = [];
    const err = readItems(sock, prefix === BYTE_MAP ? count * 2 : count, items);
    if (err !== undefined) {
      return $multi(undefined, err);
    }
    return $multi(items);
  }
  if (prefix === BYTE_PLUS || prefix === BYTE_DOUBLE || prefix === BYTE_BIG) {
    return $multi(string.sub(line, 2));
  }
  if (prefix === BYTE_COLON) {
    return $multi(tonumber(string.sub(line, 2)) ?? 0);
  }
  if (prefix === BYTE_MINUS) {
    return $multi(false as const, string.sub(line, 2));
  }
  if (prefix === BYTE_NULL) {
    return $multi(ngx.null);
  }
  if (prefix === BYTE_BOOL) {
    return $multi(line === "#t" ? 1 : 0);
  }
  if (prefix === BYTE_ATTRIBUTE) {
    const [next, err] = skipAttributes(sock, line);
    if (next === undefined) {
      return $multi(undefined, err);
    }
    return readValue(sock, next);
  }
  return $multi(undefined, `redis protocol error: unexpected line "${string.sub(line, 1, 32)}"`);
}

/**
 * Attributes (`|`: metadata about the value that follows) from `line` on are read and dropped:
 * the first line of the value itself, or why reading failed.
 */
function skipAttributes(sock: NgxTcpSocket, line: string): LuaMultiReturn<[string] | [undefined, string]> {
  let current = line;
  while (string.byte(current, 1) === BYTE_ATTRIBUTE) {
    const err = readItems(sock, (tonumber(string.sub(current, 2)) ?? 0) * 2, undefined);
    if (err !== undefined) {
      return $multi(undefined, err);
    }
    const [next, nextErr] = sock.receive("*l");
    if (next === undefined) {
      return $multi(undefined, nextErr);
    }
    current = next;
  }
  return $multi(current);
}

/**
 * Reads one frame. Waits up to `idleMs` for it to start ("timeout" if none did: the connection
 * stays usable), then up to `restMs` for the rest. Returns the value and whether it was a push;
 * false and the message of an error reply; or undefined and why reading failed.
 */
export function readFrame(sock: NgxTcpSocket, idleMs: number, restMs: number): LuaMultiReturn<[unknown, undefined, boolean] | [false | undefined, string]> {
  const [first, err] = readFirstLine(sock, idleMs, restMs);
  if (first === undefined) {
    return $multi(undefined, err);
  }
  const [line, attrErr] = skipAttributes(sock, first);
  if (line === undefined) {
    return $multi(undefined, attrErr);
  }
  const [value, valueErr] = readValue(sock, line);
  if (value === undefined) {
    return $multi(undefined, `${valueErr as string}`);
  }
  if (value === false) {
    return $multi(false as const, `${valueErr as string}`);
  }
  return $multi(value, undefined, string.byte(line, 1) === BYTE_PUSH);
}
