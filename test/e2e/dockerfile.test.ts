// Dockerfile.openresty without a Docker engine: its build stage is carried out here as written —
// the files it COPYs, then its RUN lines with its ARG defaults — in a directory standing for
// /app, and what the runtime stage needs is checked against what it copies. An image whose build
// misses a file, or whose nginx.conf points where the image has nothing, fails here.

import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(__dirname, "../../..");
const DOCKERFILE = readFileSync(join(ROOT, "Dockerfile.openresty"), "utf8");

interface Stage {
  copies: Array<{ from: string | undefined; sources: string[]; target: string }>;
  runs: string[];
  args: Record<string, string>;
}

/** The instructions of each stage (continuation lines joined). */
function stages(): Stage[] {
  const lines = DOCKERFILE.replace(/\\\n\s*/g, " ")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !l.startsWith("#"));
  const result: Stage[] = [];
  for (const line of lines) {
    const [word, ...rest] = line.split(/\s+/);
    if (word === "FROM") {
      result.push({ copies: [], runs: [], args: {} });
    } else if (word === "COPY") {
      const from = rest[0].startsWith("--from=") ? rest.shift()!.slice("--from=".length) : undefined;
      const target = rest.pop()!;
      result[result.length - 1].copies.push({ from, sources: rest, target });
    } else if (word === "RUN") {
      result[result.length - 1].runs.push(rest.join(" "));
    } else if (word === "ARG") {
      const [name, value] = rest[0].split("=");
      result[result.length - 1].args[name] = value ?? "";
    }
  }
  return result;
}

describe("Dockerfile.openresty", () => {
  jest.setTimeout(180000);
  const [build, runtime] = stages();
  const app = mkdtempSync(join(tmpdir(), "pushgate-image-"));
  afterAll(() => rmSync(app, { recursive: true, force: true }));

  test("its build stage builds from the files it copies, and renders nginx.conf in shared mode", () => {
    for (const copy of build.copies) {
      for (const source of copy.sources) {
        cpSync(join(ROOT, source), join(app, copy.target === "./" ? source : copy.target), { recursive: true });
      }
    }
    symlinkSync(join(ROOT, "node_modules"), join(app, "node_modules")); // what `npm ci` installs
    const env = { ...process.env, ...build.args, PUSHGATE_RUNTIME_DIR: "/app/run" };
    for (const run of build.runs.filter((r) => !r.startsWith("npm ci"))) {
      execFileSync("bash", ["-c", run.replaceAll("/app/", `${app}/`)], { cwd: app, env, stdio: "pipe" });
    }
    expect(existsSync(join(app, "dist/pushgate/redis_library.lua"))).toBe(true);
    expect(existsSync(join(app, "dist/pushgate/entry/sub.lua"))).toBe(true);
    expect(existsSync(join(app, "client/dist/client.js"))).toBe(true);
    const conf = readFileSync(join(app, "nginx.conf"), "utf8");
    expect(conf).toContain('"mode": "shared"');
  });

  test("everything the rendered nginx.conf reads under /app is in the runtime image", () => {
    const conf = readFileSync(join(app, "nginx.conf"), "utf8");
    const imageHas = runtime.copies.map((c) => c.target.replace(/\/$/, ""));
    const used = [...new Set([...conf.matchAll(/\/app\/[\w./-]+/g)].map((m) => m[0].replace(/\/(\?\.lua|[\w-]+\.(conf|pid|log))$/, "")))];
    expect(used.length).toBeGreaterThan(0);
    for (const path of used) {
      const covered = imageHas.some((copied) => path === copied || path.startsWith(`${copied}/`)) || path.startsWith("/app/run");
      expect([path, covered]).toEqual([path, true]);
    }
  });
});
