// The pure TypeScript modules against the shared JSON vectors. test/lua/vectors_spec.lua feeds
// the same vectors to the generated Lua, so both runtimes are held to the same answers.

import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseChannelList } from "../../src/protocol/channel";
import { errorLine, messageLine, noticeLine } from "../../src/protocol/frame";
import { mergeSources, parseSettings } from "../../src/config/schema";

function vectors<T>(name: string): T[] {
  return JSON.parse(readFileSync(resolve(__dirname, "../../../test/vectors", `${name}.json`), "utf8")) as T[];
}

const quote = (text: string): string => JSON.stringify(text);

interface ChannelVector {
  name: string;
  raw: string;
  max: number;
  channels?: string[];
  error?: string;
}
describe("parseChannelList", () => {
  test.each(vectors<ChannelVector>("channel").map((v) => [v.name, v]))("%s", (_name, v) => {
    const [channels, err] = parseChannelList(v.raw, v.max);
    if (v.channels !== undefined) {
      expect(err).toBeUndefined();
      expect(channels).toEqual(v.channels);
    } else {
      expect(channels).toBeUndefined();
      expect(err).toContain(v.error);
    }
  });
});

interface FrameVector {
  kind: string;
  format: "object" | "array";
  code?: string;
  id?: string;
  event?: string;
  cursor?: string;
  channel?: string;
  data?: string;
  message?: string;
  reconnect?: boolean;
  line: string;
}
describe("line framing", () => {
  test.each(vectors<FrameVector>("frame").map((v, i) => [`${i} ${v.kind} ${v.format} ${JSON.stringify(v.data ?? v.message)}`, v]))("%s", (_name, v) => {
    const line =
      v.kind === "message"
        ? messageLine(v.format, v.channel!, v.data!, quote, v.id, v.event, v.cursor)
        : v.kind === "notice"
          ? noticeLine(v.format, v.code!, v.message!, quote)
          : errorLine(v.format, v.message!, v.reconnect!, quote);
    expect(line).toBe(v.line);
    expect(JSON.parse(line)).toBeTruthy();
  });
});

interface ConfigVector {
  name: string;
  raw: Record<string, string>;
  settings?: Record<string, unknown>;
  error?: string;
}
describe("parseSettings", () => {
  test.each(vectors<ConfigVector>("config").map((v) => [v.name, v]))("%s", (_name, v) => {
    const [settings, err] = parseSettings(v.raw);
    if (v.settings !== undefined) {
      expect(err).toBeUndefined();
      expect(settings).toMatchObject(v.settings);
    } else {
      expect(settings).toBeUndefined();
      expect(err).toContain(v.error);
    }
  });
});

interface MergeVector {
  name: string;
  file: Record<string, unknown>;
  env: Record<string, string>;
  raw?: Record<string, string>;
  error?: string;
}
describe("mergeSources", () => {
  test.each(vectors<MergeVector>("merge").map((v) => [v.name, v]))("%s", (_name, v) => {
    const [raw, err] = mergeSources(v.file, v.env);
    if (v.raw !== undefined) {
      expect(raw).toEqual(v.raw);
    } else {
      expect(err).toContain(v.error);
    }
  });
});
