// Starts nginx from one of bench/'s config templates (Nchan, the Lua floor): fills the
// double-braced names, checks the config with `nginx -t`, runs nginx in the foreground and waits
// until `ready` says it serves.

import { ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { ROOT, stopChild } from "../../src/cli/gateway";

export interface NginxServer {
  process: ChildProcess;
  errorLog: string;
  stop(): Promise<void>;
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

/** Renders bench/<template> with `values`; a placeholder without a value is an error. */
export function renderTemplate(template: string, values: Record<string, string>): string {
  return readFileSync(resolve(ROOT, "bench", template), "utf8").replace(/\{\{(\w+)\}\}/g, (whole, name: string) => {
    const value = values[name];
    if (value === undefined) {
      throw new Error(`bench/${template} names an unknown placeholder ${whole}`);
    }
    return value;
  });
}

/**
 * Writes `config` to <runtimeDir>/nginx.conf, starts nginx on it and polls `ready` (up to 15 s,
 * which answers undefined when ready, else what it saw). Stops nginx and throws if it never is.
 */
export async function startNginx(nginx: string, runtimeDir: string, config: string, ready: () => Promise<string | undefined>): Promise<NginxServer> {
  for (const sub of ["logs", "tmp"]) {
    mkdirSync(resolve(runtimeDir, sub), { recursive: true });
  }
  const confPath = resolve(runtimeDir, "nginx.conf");
  writeFileSync(confPath, config);
  const test = spawnSync(nginx, ["-t", "-q", "-p", runtimeDir, "-c", confPath], { encoding: "utf8" });
  if (test.status !== 0) {
    throw new Error(`nginx rejected ${confPath}: ${test.stderr.trim()}`);
  }
  const child = spawn(nginx, ["-p", runtimeDir, "-c", confPath], { stdio: ["ignore", "ignore", "ignore"] });
  const server: NginxServer = {
    process: child,
    errorLog: resolve(runtimeDir, "logs/error.log"),
    stop: () => stopChild(child, "SIGQUIT", 15000),
  };
  const deadline = Date.now() + 15000;
  let last: string | undefined = "no answer";
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`nginx exited with code ${child.exitCode} before it was ready (see ${server.errorLog})`);
    }
    try {
      last = await ready();
    } catch (e) {
      last = (e as Error).message;
    }
    if (last === undefined) {
      return server;
    }
    await sleep(100);
  }
  await server.stop();
  throw new Error(`nginx was not ready within 15 s (${last})`);
}
