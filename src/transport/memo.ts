// The last message frame a transport built, and what it was built from. The hub hands one message
// to every subscriber of the worker in turn, so most frames equal the previous one: each transport
// (chunked line, SSE event, WebSocket frame) keeps one memo and builds a message's frame once per
// worker instead of once per subscriber. Lua compares strings by reference: a hit costs six
// comparisons, no JSON encoding and no new string.

/** What a message frame is built from: the transport's format, then the message. */
export interface Memo {
  format: string | undefined;
  channel: string | undefined;
  data: string | undefined;
  id: string | undefined;
  event: string | undefined;
  cursor: string | undefined;
  frame: string;
}

export function newMemo(): Memo {
  return { format: undefined, channel: undefined, data: undefined, id: undefined, event: undefined, cursor: undefined, frame: "" };
}

/** The frame kept for exactly these inputs, or undefined: then build it and keep() it. */
export function recall(
  memo: Memo,
  format: string,
  channel: string,
  data: string,
  id: string | undefined,
  event: string | undefined,
  cursor: string | undefined,
): string | undefined {
  if (data === memo.data && channel === memo.channel && id === memo.id && event === memo.event && cursor === memo.cursor && format === memo.format) {
    return memo.frame;
  }
  return undefined;
}

/** Keeps `frame` as the one built from these inputs; returns it. */
export function keep(
  memo: Memo,
  frame: string,
  format: string,
  channel: string,
  data: string,
  id: string | undefined,
  event: string | undefined,
  cursor: string | undefined,
): string {
  memo.format = format;
  memo.channel = channel;
  memo.data = data;
  memo.id = id;
  memo.event = event;
  memo.cursor = cursor;
  memo.frame = frame;
  return frame;
}
