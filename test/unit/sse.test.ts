// Server-Sent Events framing against the shared vectors (test/vectors/sse.json), which
// test/lua/sse_spec.lua feeds to the generated Lua. Each frame is also read back with a real SSE
// parser (the one the `eventsource` client uses), to prove what an EventSource receives.

import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { createParser, EventSourceMessage } from "eventsource-parser";
import { errorEvent, HEARTBEAT_EVENT, jsonEvent, messageEvent, noticeEvent, retryField } from "../../src/protocol/sse";

interface SseVector {
  name: string;
  kind: "message" | "json" | "notice" | "error" | "retry" | "heartbeat";
  data?: string;
  id?: string;
  event?: string;
  line?: string;
  code?: string;
  message?: string;
  reconnect?: boolean;
  retryMs?: number;
  frame: string;
  received: Array<{ event: string; data: string; id?: string }>;
}

const vectors = JSON.parse(readFileSync(resolve(__dirname, "../../../test/vectors/sse.json"), "utf8")) as SseVector[];
const quote = (text: string): string => JSON.stringify(text);

function frameOf(v: SseVector): string {
  switch (v.kind) {
    case "message":
      return messageEvent(v.data!, v.id, v.event).join("");
    case "json":
      return jsonEvent(v.line!, v.id).join("");
    case "notice":
      return noticeEvent(v.code!, v.message!, quote).join("");
    case "error":
      return errorEvent(v.message!, v.reconnect!, quote).join("");
    case "retry":
      return retryField(v.retryMs!);
    case "heartbeat":
      return HEARTBEAT_EVENT;
  }
}

function parse(frame: string): Array<{ event: string; data: string; id?: string }> {
  const events: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (event) => events.push(event) });
  parser.feed(frame);
  return events.map((e) => ({ event: e.event ?? "message", data: e.data, ...(e.id !== undefined ? { id: e.id } : {}) }));
}

describe("SSE framing", () => {
  test.each(vectors.map((v) => [v.name, v]))("%s", (_name, v) => {
    const frame = frameOf(v);
    expect(frame).toBe(v.frame);
    expect(parse(frame)).toEqual(v.received);
  });

  test("a payload without CR arrives exactly as sent", () => {
    for (const v of vectors.filter((x) => x.kind === "message" && !x.data!.includes("\r"))) {
      expect(parse(frameOf(v))[0].data).toBe(v.data);
    }
  });
});
