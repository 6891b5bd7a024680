// Long-poll timeouts and batches against the shared vectors (test/vectors/longpoll.json), which
// test/lua/longpoll_spec.lua feeds to the generated Lua.

import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { batchBody, batchMessage, batchNotice, parseTimeout } from "../../src/protocol/longpoll";

interface TimeoutVector {
  name: string;
  raw?: string;
  max: number;
  seconds?: number;
  error?: string;
}
interface BatchVector {
  name: string;
  messages: Array<{ channel: string; data: string; id?: string; event?: string }>;
  notices: Array<{ code: string; message: string }>;
  cursor?: string;
  body: string;
}

const vectors = JSON.parse(readFileSync(resolve(__dirname, "../../../test/vectors/longpoll.json"), "utf8")) as {
  timeouts: TimeoutVector[];
  batches: BatchVector[];
};
const quote = (text: string): string => JSON.stringify(text);

describe("parseTimeout", () => {
  test.each(vectors.timeouts.map((v) => [v.name, v]))("%s", (_name, v) => {
    const [seconds, err] = parseTimeout(v.raw, v.max);
    if (v.seconds !== undefined) {
      expect(err).toBeUndefined();
      expect(seconds).toBe(v.seconds);
    } else {
      expect(seconds).toBeUndefined();
      expect(err).toContain(v.error);
    }
  });
});

describe("batch body", () => {
  test.each(vectors.batches.map((v) => [v.name, v]))("%s", (_name, v) => {
    const messages = v.messages.map((m) => batchMessage(m.channel, m.data, m.id, m.event, quote));
    const notices = v.notices.map((n) => batchNotice(n.code, n.message, quote));
    const body = batchBody(messages, notices, v.cursor, quote).join("");
    expect(body).toBe(v.body);
    expect((JSON.parse(body) as { messages: unknown[] }).messages).toEqual(v.messages);
  });
});
