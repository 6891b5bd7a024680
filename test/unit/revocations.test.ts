// The revocation rules (src/auth/revocations.ts) under Node against test/vectors/revocations.json;
// test/lua/revocations_spec.lua runs the same vectors against the generated Lua.

import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { Revocations } from "../../src/auth/revocations";

interface Vector {
  name: string;
  steps: string[][];
  checks: Array<{ user: string; jti: string | null; issued: number; refusal: string | null }>;
}

const vectors = JSON.parse(readFileSync(resolve(__dirname, "../../../test/vectors/revocations.json"), "utf8")) as Vector[];

describe("revocations", () => {
  test.each(vectors.map((v) => [v.name, v]))("%s", (_name, vector) => {
    const revocations = new Revocations();
    for (const [op, a, b] of vector.steps) {
      if (op === "jti") {
        revocations.revokeId(a);
      } else if (op === "before") {
        revocations.revokeBefore(a, Number(b));
      } else {
        revocations.load(a, b);
      }
    }
    for (const check of vector.checks) {
      expect([check, revocations.refusal(check.user, check.jti ?? undefined, check.issued) ?? null]).toEqual([check, check.refusal]);
    }
  });
});
