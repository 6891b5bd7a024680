// WebSocket control frames, server frames and UTF-8 validation against the shared vectors
// (test/vectors/ws.json), which test/lua/ws_spec.lua feeds to the generated Lua.

import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { messageLine } from "../../src/protocol/frame";
import { isUtf8 } from "../../src/protocol/utf8";
import {
  ackedFrame,
  channelsFrame,
  errorFrame,
  messageFrame,
  noticeFrame,
  parseControl,
  pongFrame,
  publishedFrame,
  refreshedFrame,
  revokedFrame,
} from "../../src/protocol/ws";

interface ControlVector {
  name: string;
  json: string;
  maxChannels: number;
  control?: Record<string, unknown>;
  error?: string;
  ref?: string | number;
}
interface FrameVector {
  name: string;
  kind: string;
  channel?: string;
  channels?: string[];
  data?: string;
  id?: string;
  event?: string;
  cursor?: string;
  code?: string;
  message?: string;
  ref?: string | number;
  read?: string;
  subscribers?: number;
  duplicate?: boolean;
  expires?: number;
  frame: string;
}
interface Utf8Vector {
  name: string;
  hex: string;
  valid: boolean;
}

const vectors = JSON.parse(readFileSync(resolve(__dirname, "../../../test/vectors/ws.json"), "utf8")) as {
  control: ControlVector[];
  frames: FrameVector[];
  utf8: Utf8Vector[];
};
const quote = (text: string): string => JSON.stringify(text);

describe("parseControl", () => {
  test.each(vectors.control.map((v) => [v.name, v]))("%s", (_name, v) => {
    const [control, err, ref] = parseControl(JSON.parse(v.json), v.maxChannels);
    if (v.control !== undefined) {
      expect(err).toBeUndefined();
      expect(control).toEqual(v.control);
    } else {
      expect(control).toBeUndefined();
      expect(err).toContain(v.error);
      expect(ref).toBe(v.ref);
    }
  });
});

describe("server frames", () => {
  test.each(vectors.frames.map((v) => [v.name, v]))("%s", (_name, v) => {
    let frame: string;
    if (v.kind === "message") {
      frame = messageFrame(v.channel!, v.data!, v.id, v.event, v.cursor, quote);
      // the same object as a /sub line in the object format
      expect(`${frame}\n`).toBe(messageLine("object", v.channel!, v.data!, quote, v.id, v.event, v.cursor));
    } else if (v.kind === "notice") {
      frame = noticeFrame(v.code!, v.message!, quote);
    } else if (v.kind === "error") {
      frame = errorFrame(v.message!, v.ref, quote);
    } else if (v.kind === "pong") {
      frame = pongFrame(v.ref, quote);
    } else if (v.kind === "published") {
      frame = publishedFrame(v.channel!, v.id!, v.subscribers!, v.duplicate!, v.ref, quote);
    } else if (v.kind === "acked") {
      frame = ackedFrame(v.channel!, v.read!, v.ref, quote);
    } else if (v.kind === "refreshed") {
      frame = refreshedFrame(v.expires, v.ref, quote);
    } else if (v.kind === "revoked") {
      frame = revokedFrame(v.channel!, quote);
    } else {
      frame = channelsFrame(v.kind as "subscribed" | "unsubscribed", v.channels!, v.ref, quote);
    }
    expect(frame).toBe(v.frame);
    const parsed = JSON.parse(frame) as { ref?: unknown };
    // the ref comes back with the JSON type it was sent with
    expect(parsed.ref).toStrictEqual(v.ref);
  });
});

describe("isUtf8", () => {
  test.each(vectors.utf8.map((v) => [v.name, v]))("%s", (_name, v) => {
    // Node runs the byte-string code on a latin1 string: one character per byte, as in Lua.
    const bytes = Buffer.from(v.hex, "hex");
    expect(isUtf8(bytes.toString("latin1"))).toBe(v.valid);
    // and agrees with Node's own decoder
    let decodes = true;
    try {
      new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
      decodes = false;
    }
    expect(decodes).toBe(v.valid);
  });
});
