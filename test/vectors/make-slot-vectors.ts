// Generates test/vectors/slot.json, the hash slot vectors that test/unit/slot.test.ts (Node) and
// test/lua/slot_spec.lua (LuaJIT) both run. Every slot in the file is the answer of a real
// `redis-server --cluster-enabled yes` to CLUSTER KEYSLOT, never of the code under test.
// A key is given as text (its UTF-8 bytes are the key) or, for bytes that are not UTF-8, as hex.
// The random keys come from a seeded generator, so a run against the same Redis gives the same file.
//
//   bash scripts/build && node build/test/vectors/make-slot-vectors.js

import "../../src/cli/multi";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createClient } from "redis";
import { freePort, startRedis } from "../../src/cli/gateway";

export const VECTORS_PATH = resolve(__dirname, "../../../test/vectors/slot.json");

export interface SlotVector {
  name: string;
  /** The key as text: its UTF-8 bytes. */
  key?: string;
  /** The key's bytes in hex, for keys that are not UTF-8. */
  keyHex?: string;
  slot: number;
}

const NAMED: Array<[string, string]> = [
  ["empty key", ""],
  ["one letter", "a"],
  ["spec example foo", "foo"],
  ["spec example 123456789", "123456789"],
  ["ascii words", "hello world"],
  ["tag", "{user1000}.following"],
  ["same tag, other key", "{user1000}.followers"],
  ["empty tag hashes the whole key", "foo{}{bar}"],
  ["empty tag alone", "{}"],
  ["nested open brace is part of the tag", "foo{{bar}}zap"],
  ["double braces", "{{a}}"],
  ["first tag only", "a{b}c{d}"],
  ["tag after text", "foo{bar}{zap}"],
  ["open brace without close", "{a"],
  ["close before open", "a}b{"],
  ["close brace only", "}"],
  ["open brace only", "{"],
  ["tag of one brace", "{}}"],
  ["tag is a close brace after empty", "{}x}"],
  ["pushgate stream key", "pushgate:{room:1}:stream"],
  ["pushgate meta key", "pushgate:{room:1}:meta"],
  ["pushgate idempotency key", "pushgate:{room:1}:idem:abc-123"],
  ["pushgate read key", "pushgate:read:user-42"],
  ["pushgate multi-byte channel", "pushgate:{søren/☃}:stream"],
  ["two-byte utf-8", "clé"],
  ["three-byte utf-8", "雪だるま☃"],
  ["four-byte utf-8", "emoji 😀🎉"],
  ["multi-byte tag", "x{ü}y"],
  ["multi-byte around tag", "ñ{tag}ñ"],
  ["long key", "k".repeat(1000)],
];

const BINARY: Array<[string, string]> = [
  ["all high bytes", "80ff00fe7f"],
  ["invalid utf-8 in tag", "617bc3287d62"],
  ["nul bytes", "00007b007d00"],
  ["lone continuation bytes", "bfbfbf"],
];

/** A small seeded generator (mulberry32), so the random keys are the same on every run. */
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABET = ["a", "b", "z", "0", "9", ":", "-", "_", "/", ".", " ", "{", "}", "{", "}", "é", "ß", "☃", "雪", "😀", "\u0000", "\u007f"];

function randomKeys(count: number): string[] {
  const next = generator(20240611);
  const keys: string[] = [];
  for (let k = 0; k < count; k++) {
    const length = Math.floor(next() * 24);
    let key = "";
    for (let i = 0; i < length; i++) {
      key += ALPHABET[Math.floor(next() * ALPHABET.length)];
    }
    keys.push(key);
  }
  return keys;
}

export async function buildSlotVectors(): Promise<SlotVector[]> {
  const dir = mkdtempSync(join(tmpdir(), "pushgate-slot-"));
  const port = await freePort();
  const redis = await startRedis("127.0.0.1", port, dir, ["--cluster-enabled", "yes", "--cluster-config-file", join(dir, "nodes.conf")]);
  const client = createClient({ url: redis.url });
  try {
    await client.connect();
    const slotOf = async (key: string | Buffer): Promise<number> => Number(await client.sendCommand(["CLUSTER", "KEYSLOT", key]));
    const vectors: SlotVector[] = [];
    for (const [name, key] of NAMED) {
      vectors.push({ name, key, slot: await slotOf(key) });
    }
    for (const [name, keyHex] of BINARY) {
      vectors.push({ name, keyHex, slot: await slotOf(Buffer.from(keyHex, "hex")) });
    }
    for (const [i, key] of randomKeys(200).entries()) {
      vectors.push({ name: `random ${i}`, key, slot: await slotOf(key) });
    }
    return vectors;
  } finally {
    await client.quit().catch(() => undefined);
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  buildSlotVectors().then(
    (vectors) => {
      writeFileSync(VECTORS_PATH, `${JSON.stringify(vectors, null, 1)}\n`);
      console.log(`wrote ${VECTORS_PATH}: ${vectors.length} vectors`);
    },
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
}
