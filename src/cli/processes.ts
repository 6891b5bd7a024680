// The launcher's processes: free ports, waiting until a child answers (Redis, HTTP), finding a
// process group's pids, stopping a child or a group with a grace time, and starting a
// redis-server. Used by the gateway's start (gateway.ts), the tests and bench.

import { ChildProcess, spawn } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { clientAddress, hostAndPort } from "./addresses";

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

/** A TCP port nothing listens on at `host` right now (the kernel picks it). */
export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((done, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => done(typeof address === "object" && address !== null ? address.port : 0));
    });
  });
}

/** True when a Redis answers PING at host:port within `timeoutMs`. */
export function redisAnswers(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host, port });
    let answer = "";
    const finish = (ok: boolean): void => {
      socket.destroy();
      done(ok);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.on("error", () => finish(false));
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (chunk) => {
      answer += chunk.toString("latin1");
      if (answer.includes("\r\n")) {
        finish(answer.startsWith("+PONG") || answer.startsWith("-NOAUTH"));
      }
    });
  });
}

export async function waitFor(what: string, check: () => Promise<boolean>, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`${what} exited with code ${child.exitCode} before it was ready`);
    }
    if (await check()) {
      return;
    }
    await sleep(50);
  }
  throw new Error(`${what} did not become ready within ${timeoutMs} ms`);
}

export function httpAnswers(listen: string): Promise<boolean> {
  const { host, port } = hostAndPort(clientAddress(listen));
  return new Promise((done) => {
    const socket = connect({ host, port });
    let answer = "";
    socket.setTimeout(500, () => {
      socket.destroy();
      done(false);
    });
    socket.on("error", () => done(false));
    socket.on("connect", () => socket.write("GET /livez HTTP/1.0\r\n\r\n"));
    socket.on("data", (chunk) => (answer += chunk.toString()));
    socket.on("close", () => done(answer.startsWith("HTTP/1.1 200")));
  });
}

/** The pids of a process's children (nginx: its workers), from /proc. */
export function childPids(pid: number | undefined): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8")
      .trim()
      .split(/\s+/)
      .filter((p) => p.length > 0)
      .map(Number);
  } catch {
    return [];
  }
}

/** True while a process of the group `pgid` exists (a child started with `detached` leads its own group). */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Ends what is left of the process group a detached child led (nginx workers whose master died):
 * SIGTERM, then SIGKILL if any is still there after `graceMs`.
 */
export async function stopGroup(pgid: number, graceMs = 3000): Promise<void> {
  const signal = (name: NodeJS.Signals): void => {
    try {
      process.kill(-pgid, name);
    } catch {
      // the group is empty
    }
  };
  signal("SIGTERM");
  const deadline = Date.now() + graceMs;
  while (groupAlive(pgid) && Date.now() < deadline) {
    await sleep(50);
  }
  signal("SIGKILL");
}

/**
 * Stops a child: `signal` first, SIGKILL if it has not exited after `graceMs` — its own children
 * too, so a master killed hard leaves no worker behind.
 */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals = "SIGTERM", graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return;
  }
  const exited = new Promise<void>((done) => child.once("exit", () => done()));
  child.kill(signal);
  const timer = setTimeout(() => {
    const orphans = childPids(child.pid);
    child.kill("SIGKILL");
    for (const pid of orphans) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }, graceMs);
  await exited;
  clearTimeout(timer);
}

export interface RedisServer {
  process: ChildProcess;
  host: string;
  port: number;
  url: string;
  stop(): Promise<void>;
}

export interface ChildOptions {
  /**
   * Run the child in its own process group (the launcher does): a Ctrl-C in the terminal reaches
   * only the launcher, which stops the child in order, and the group outlives a killed leader so
   * its leftovers can be found and stopped.
   */
  ownGroup?: boolean;
}

/**
 * Starts redis-server on host:port with its files in `dir`; `extraArgs` are redis-server options
 * (later ones win: `--appendonly yes` turns on the append-only file the defaults leave off).
 */
export async function startRedis(host: string, port: number, dir: string, extraArgs: string[] = [], options: ChildOptions = {}): Promise<RedisServer> {
  mkdirSync(dir, { recursive: true });
  // Protected mode would refuse connections from 127.0.0.2 and the like (source addresses);
  // a Redis bound to a loopback address is out of other hosts' reach anyway.
  const loopbackOnly = host.startsWith("127.") ? ["--protected-mode", "no"] : [];
  const args = [
    ...loopbackOnly,
    "--bind",
    host,
    "--port",
    `${port}`,
    "--dir",
    dir,
    "--save",
    "",
    "--appendonly",
    "no",
    "--daemonize",
    "no",
    "--logfile",
    "",
    "--maxclients",
    "100000",
    ...extraArgs,
  ];
  const child = spawn("redis-server", args, { stdio: ["ignore", "ignore", "inherit"], detached: options.ownGroup === true });
  await waitFor(`redis-server on ${host}:${port}`, () => redisAnswers(host, port), child, 10000);
  return {
    process: child,
    host,
    port,
    url: `redis://${host}:${port}/0`,
    stop: () => stopChild(child, "SIGTERM"),
  };
}
