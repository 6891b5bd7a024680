// PUSHGATE_LUA_PROFILE end to end: each worker of a real gateway runs LuaJIT's sampling profiler
// while streams receive messages, and writes where its Lua spent its time when nginx stops.
// PUSHGATE_LUA_HEAP_MAP: the worker's map of what its open streams hold.

import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eventually, sleep, startStack, Stream } from "./harness";

/** Runs `body` with a new directory the workers (nginx's user) can write to; removes it after. */
async function withWorkerDir(prefix: string, body: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o777);
  try {
    await body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("each worker writes a profile naming Pushgate's Lua functions when it exits", async () => {
  await withWorkerDir("pushgate-profile-", async (dir) => {
    const stack = await startStack({ settings: { mode: "shared", workers: "2", luaProfile: join(dir, "lua") } });
    try {
      const streams = await Promise.all(Array.from({ length: 100 }, () => new Stream(`${stack.base}/sub?key=profiled`).open()));
      for (let i = 0; i < 400; i++) {
        await stack.client.publish("profiled", `message ${i} ${"x".repeat(200)}`);
      }
      expect(await eventually(() => streams.every((s) => s.messages().length === 400), 20000)).toBe(true);
      streams.forEach((s) => s.close());
    } finally {
      await stack.stop();
    }
    const reports = readdirSync(dir).filter((name) => name.startsWith("lua."));
    expect(reports.length).toBe(2);
    const text = reports.map((name) => readFileSync(join(dir, name), "utf8")).join("\n");
    expect(text).toMatch(/(pump|queue|fanout|chunked)\.lua:/); // functions of Pushgate's modules, with their share of the samples
    expect(text).toMatch(/\d+%/);
  });
});

test("the heap map counts the worker's open streams and says what each holds", async () => {
  await withWorkerDir("pushgate-heapmap-", async (dir) => {
    const stack = await startStack({ settings: { mode: "shared", workers: "1", luaHeapMap: join(dir, "map") } });
    try {
      const pid = (await stack.status()).workers[0].pid;
      const file = join(dir, `map.${pid}`);
      const read = (): string => {
        try {
          return readFileSync(file, "utf8");
        } catch {
          return "";
        }
      };
      // more than 500: a smaller table of streams would pass for the modules' own state
      const streams = await Promise.all(Array.from({ length: 600 }, (_, i) => new Stream(`${stack.base}/sub?key=mapped-${i}`).open()));
      rmSync(file, { force: true }); // a missing map is written anew
      expect(await eventually(() => read().startsWith("600 streams;"), 10000)).toBe(true);
      await sleep(200); // the write is done once it begins with the count, but give it its moment
      const map = read();
      const [, heapKb] = map.match(/Lua heap after a full collection (\d+) KB/)!;
      const [, blocks, used] = map.match(/request pool per stream: ([\d.]+) blocks, (\d+) bytes used/)!;
      const [, perStream] = map.match(/([\d.]+) {2}in all per stream/)!;
      expect(Number(blocks)).toBeGreaterThanOrEqual(1);
      expect(Number(used)).toBeGreaterThan(500); // the request, its headers, the Lua context
      // each stream's own records by field, its transport (a variable of its pump), its thread's stack
      expect(map).toMatch(/ {2}stream \(table: 0 array, \d+ hash slots\)/);
      expect(map).toMatch(/ {2}stream\.subscription \(table/);
      expect(map).toMatch(/ {2}pump\.lua:transport \(table/);
      expect(map).toMatch(/thread: \d+ stack slots/);
      expect(map).toMatch(/worker-wide \w+\^byRequest \(table/); // the streams by request (stream/open)
      // what it attributes is real and fits in the heap: at least 1 KB a stream, at most all of it
      expect(Number(perStream)).toBeGreaterThan(1000);
      expect((Number(perStream) * 600) / 1024).toBeLessThan(Number(heapKb));
      streams.forEach((s) => s.close());
      await sleep(500);
      expect(read()).toBe(map); // not rewritten while the file is there
      rmSync(file, { force: true });
      expect(await eventually(() => read().startsWith("0 streams;"), 10000)).toBe(true);
    } finally {
      await stack.stop();
    }
  });
});
