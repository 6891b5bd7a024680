// In Lua, `$multi(a, b)` returns several values; in Node the same pure modules run with this
// shim, which returns them as an array, so `const [value, err] = f()` reads the same in both.
// Import this module first in every Node entry point (launcher, SDK, tests).

const host = globalThis as unknown as { $multi?: (...values: unknown[]) => unknown[] };
if (host.$multi === undefined) {
  host.$multi = (...values: unknown[]): unknown[] => values;
}

export {};
