// Line framing of the chunked JSON stream (`/sub`). Pure: the caller passes its runtime's JSON
// string encoder (cjson in nginx, JSON.stringify in Node), so both runtimes build the same bytes.

/** The line shapes of a chunked stream: JSON objects, or the original arrays. */
export type LineFormat = "object" | "array";

/** Encodes a string as a JSON string literal, quotes included. */
export type QuoteJson = (this: void, text: string) => string;

/** An idle stream writes a blank line: line-by-line JSON readers skip it, proxies see traffic. */
export const HEARTBEAT_LINE = "\n";

/**
 * One message as a line. A durable message carries its id, its event name when it has one, and,
 * on a stream of several channels, the compound cursor to resume from after it.
 * object: {"type":"message","channel":"abc","id":"1700000000000-0","event":"e","cursor":"abc=1700000000000-0,x=1-0","data":"123"}
 * array:  ["message","abc","123"]  (what cjson.encode gives for a Redis pub/sub reply),
 *         ["message","abc","123","1700000000000-0"] with an id
 */
export function messageLine(format: LineFormat, channel: string, data: string, quote: QuoteJson, id?: string, event?: string, cursor?: string): string {
  if (format === "array") {
    if (id === undefined) {
      return `["message",${quote(channel)},${quote(data)}]\n`;
    }
    return `["message",${quote(channel)},${quote(data)},${quote(id)}]\n`;
  }
  if (id === undefined) {
    return `{"type":"message","channel":${quote(channel)},"data":${quote(data)}}\n`;
  }
  const eventField = event !== undefined ? `,"event":${quote(event)}` : "";
  const cursorField = cursor !== undefined ? `,"cursor":${quote(cursor)}` : "";
  return `{"type":"message","channel":${quote(channel)},"id":${quote(id)}${eventField}${cursorField},"data":${quote(data)}}\n`;
}

/**
 * The last line of a stream the server ends. `reconnect` tells the client that trying again is
 * the right reaction (Redis lost, server restart), as opposed to a request it must change.
 * object: {"type":"error","error":"redis connection lost","reconnect":true}
 * array:  ["error","redis connection lost",true]
 */
export function errorLine(format: LineFormat, message: string, reconnect: boolean, quote: QuoteJson): string {
  const again = reconnect ? "true" : "false";
  if (format === "array") {
    return `["error",${quote(message)},${again}]\n`;
  }
  return `{"type":"error","error":${quote(message)},"reconnect":${again}}\n`;
}

/**
 * A notice on a stream that goes on: something the client may want to act on.
 * `code` is stable ("redis-lost", "redis-restored", "dropped"); `message` is for people.
 * object: {"type":"notice","notice":"redis-lost","message":"..."}
 * array:  ["notice","redis-lost","..."]
 */
export function noticeLine(format: LineFormat, code: string, message: string, quote: QuoteJson): string {
  if (format === "array") {
    return `["notice",${quote(code)},${quote(message)}]\n`;
  }
  return `{"type":"notice","notice":${quote(code)},"message":${quote(message)}}\n`;
}

/** The body of an error answer: {"error":"..."} */
export function errorBody(message: string, quote: QuoteJson): string {
  return `{"error":${quote(message)}}\n`;
}
