// The hash slot of a key (src/protocol/slot) against test/vectors/slot.json, whose slots are a
// real cluster-enabled Redis's answers to CLUSTER KEYSLOT. test/lua/slot_spec.lua runs the same
// vectors through the generated Lua.

import "../../src/cli/multi";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { crc16, keySlot, SLOT_COUNT } from "../../src/protocol/slot";
import type { SlotVector } from "../vectors/make-slot-vectors";

const vectors = JSON.parse(readFileSync(resolve(__dirname, "../../../test/vectors/slot.json"), "utf8")) as SlotVector[];

/** The key's bytes as Node passes bytes to the pure modules: a latin1 string. */
function keyBytes(v: SlotVector): string {
  return v.keyHex !== undefined ? Buffer.from(v.keyHex, "hex").toString("latin1") : Buffer.from(v.key!, "utf8").toString("latin1");
}

describe("keySlot", () => {
  test("the vectors cover tags, multi-byte keys, binary keys and random keys", () => {
    expect(vectors.length).toBeGreaterThan(200);
    expect(vectors.some((v) => v.key !== undefined && Buffer.byteLength(v.key) > v.key.length)).toBe(true);
    expect(vectors.some((v) => v.keyHex !== undefined)).toBe(true);
  });

  test.each(vectors.map((v) => [v.name, v]))("%s", (_name, v) => {
    expect(keySlot(keyBytes(v))).toBe(v.slot);
  });

  test("CRC16/XMODEM check value of 123456789 is 0x31c3", () => {
    expect(crc16("123456789")).toBe(0x31c3);
  });

  test("slots stay in 0..16383", () => {
    for (const v of vectors) {
      const slot = keySlot(keyBytes(v));
      expect(slot).toBeGreaterThanOrEqual(0);
      expect(slot).toBeLessThan(SLOT_COUNT);
    }
  });
});
