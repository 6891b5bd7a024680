// PUSHGATE_LUA_PROFILE end to end: each worker of a real gateway runs LuaJIT's sampling profiler
// while streams receive messages, and writes where its Lua spent its time when nginx stops.

import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eventually, startStack, Stream } from "./harness";

test("each worker writes a profile naming Pushgate's Lua functions when it exits", async () => {
  const dir = mkdtempSync(join(tmpdir(), "pushgate-profile-"));
  chmodSync(dir, 0o777); // the workers run as nginx's user
  try {
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
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
