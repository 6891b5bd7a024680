// Message ids, cursors and envelopes (pure) against test/vectors/cursor.json; the same vectors
// run against the generated Lua in test/lua/cursor_spec.lua.

import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { compareIds, formatCursor, isValidId, parseCursor } from "../../src/protocol/cursor";
import { openEnvelope, sealEnvelope } from "../../src/protocol/envelope";

interface Vectors {
  valid_ids: string[];
  invalid_ids: string[];
  compare: Array<[string, string, number]>;
  parse: Array<{ name: string; raw: string; channels: string[]; positions?: Record<string, string>; error?: string }>;
  format: Array<{ channels: string[]; positions: Record<string, string>; fallback?: string; cursor: string }>;
  envelopes: Array<{ payload: string; id?: string; event?: string; data?: string; plain?: boolean }>;
}
const vectors = JSON.parse(readFileSync(resolve(__dirname, "../../../test/vectors/cursor.json"), "utf8")) as Vectors;

test.each(vectors.valid_ids)("valid id %j", (id) => expect(isValidId(id)).toBe(true));
test.each(vectors.invalid_ids)("invalid id %j", (id) => expect(isValidId(id)).toBe(false));
test.each(vectors.compare)("compare %s %s", (a, b, expected) => expect(Math.sign(compareIds(a, b))).toBe(expected));
test.each(vectors.parse.map((v) => [v.name, v]))("parse: %s", (_name, v) => {
  const [positions, err] = parseCursor(v.raw, v.channels);
  if (v.positions !== undefined) {
    expect(positions).toEqual(v.positions);
  } else {
    expect(positions).toBeUndefined();
    expect(err).toContain(v.error);
  }
});
test.each(vectors.format.map((v) => [v.cursor, v]))("format %j", (_cursor, v) => expect(formatCursor(v.channels, v.positions, v.fallback)).toBe(v.cursor));
test.each(vectors.envelopes.map((v) => [JSON.stringify(v.payload), v]))("envelope %s", (_name, v) => {
  const [id, event, data] = openEnvelope(v.payload);
  if (v.plain === true) {
    expect(id).toBeUndefined();
  } else {
    expect([id, event, data]).toEqual([v.id, v.event, v.data]);
    expect(sealEnvelope(v.id!, v.event!, v.data!)).toBe(v.payload);
  }
});
