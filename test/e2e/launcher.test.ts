// The launcher as an operator runs it: the real `node build/src/cli/start.js` (what `npm start`
// execs) and `pushgate status|reload|stop`, with real nginx and Redis on free loopback ports and
// a temporary runtime directory per test. Every process is found through the pid files and
// checked gone at the end; the cleanup stops only what these tests started.

import { ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { childPids, findNginx, redisAnswers, RedisServer, ROOT, startRedis } from "../../src/cli/gateway";
import type { LauncherState } from "../../src/cli/runtime-files";
import { eventually, fetchText, freePort, sleep, Stream } from "./harness";

const LAUNCHER = resolve(ROOT, "build/src/cli/start.js");
const PUSHGATE = resolve(ROOT, "bin/pushgate");

/** The test runner's environment without PUSHGATE_* variables, so only each test's settings apply. */
function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith("PUSHGATE_") && value !== undefined) {
      env[name] = value;
    }
  }
  return env;
}

interface Run {
  child: ChildProcess;
  output: () => string;
  exit: Promise<number | null>;
}

const runs: Run[] = [];
const dirs: string[] = [];
const redisServers: RedisServer[] = [];
/** Process groups of the nginx and Redis launchers started (leaders' pids), swept after each test. */
const groups: number[] = [];

function launch(env: Record<string, string>): Run {
  const child = spawn("node", [LAUNCHER], { env: { ...cleanEnv(), ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (out += chunk.toString()));
  const exit = new Promise<number | null>((done) => child.on("exit", (code) => done(code)));
  const run = { child, output: () => out, exit };
  runs.push(run);
  return run;
}

/** Runs `bin/pushgate <verb>` with `env`; its exit code and output. */
function pushgate(verb: string, env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile("bash", [PUSHGATE, verb], { env: { ...cleanEnv(), ...env } }, (error, stdout, stderr) => {
      done({ code: error === null ? 0 : Number(error.code), stdout, stderr });
    });
  });
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "pushgate-launcher-"));
  dirs.push(dir);
  return dir;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Pids of the live processes whose process group is `pgid` (nginx master and workers), from /proc. */
function groupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) {
      continue;
    }
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.substring(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) === pgid && fields[0] !== "Z") {
        members.push(Number(entry));
      }
    } catch {
      // exited meanwhile
    }
  }
  return members;
}

function state(runtimeDir: string): LauncherState {
  return JSON.parse(readFileSync(join(runtimeDir, "pushgate.json"), "utf8")) as LauncherState;
}

/** Waits until the launcher says ready, and notes its nginx and Redis for the sweep after the test. */
async function ready(run: Run, runtimeDir: string): Promise<void> {
  const ok = await eventually(() => run.output().includes("pushgate: ready") || run.child.exitCode !== null, 20000, 50);
  if (!ok || !run.output().includes("pushgate: ready")) {
    throw new Error(`the launcher is not ready:\n${run.output()}`);
  }
  const { nginxPid, localRedis } = state(runtimeDir);
  groups.push(nginxPid!);
  if (localRedis !== undefined) {
    groups.push(localRedis.pid);
  }
}

afterEach(async () => {
  // stop what a failed test left: launchers first (they stop their nginx and Redis), then groups
  for (const run of runs.splice(0)) {
    if (run.child.exitCode === null && run.child.signalCode === null) {
      run.child.kill("SIGTERM");
      await Promise.race([run.exit, sleep(20000)]);
    }
  }
  for (const pgid of groups.splice(0)) {
    for (const member of groupMembers(pgid)) {
      try {
        process.kill(member, "SIGKILL");
      } catch {
        // exited meanwhile
      }
    }
  }
  for (const dir of dirs.splice(0)) {
    rmSync(dir, { recursive: true, force: true });
  }
  for (const redis of redisServers.splice(0)) {
    await redis.stop();
  }
});

describe("settings", () => {
  test("an unknown PUSHGATE_* variable stops start-up, naming the closest setting", async () => {
    const run = launch({ PUSHGATE_WORKER: "4", PUSHGATE_RUNTIME_DIR: join(tempDir(), "run") });
    expect(await run.exit).toBe(2);
    expect(run.output()).toContain("pushgate: unknown setting PUSHGATE_WORKER: did you mean PUSHGATE_WORKERS?");
  });

  test("an unknown config-file key stops start-up, naming the closest key", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "pushgate.json"), JSON.stringify({ heartbeat: 5 }));
    const run = launch({ PUSHGATE_CONFIG: join(dir, "pushgate.json"), PUSHGATE_RUNTIME_DIR: join(dir, "run") });
    expect(await run.exit).toBe(2);
    expect(run.output()).toContain('unknown setting "heartbeat" in the config file: did you mean "heartbeatSeconds"?');
  });
});

describe("pushgate status|reload|stop", () => {
  test.each(["status", "reload", "stop"])("%s with no launcher running says so and exits 1", async (verb) => {
    const runtimeDir = join(tempDir(), "run");
    const result = await pushgate(verb, { PUSHGATE_RUNTIME_DIR: runtimeDir });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`pushgate is not running (no live launcher named by ${runtimeDir}/pushgate.pid)`);
  });

  test("a stale pid file (its process gone) counts as not running", async () => {
    const runtimeDir = join(tempDir(), "run");
    mkdirSync(runtimeDir, { recursive: true });
    const gone = spawn("true");
    await new Promise((done) => gone.on("exit", done));
    writeFileSync(join(runtimeDir, "pushgate.pid"), `${gone.pid}\n`);
    expect((await pushgate("status", { PUSHGATE_RUNTIME_DIR: runtimeDir })).code).toBe(1);
  });

  test("against a running launcher with its own Redis: status tells what runs, reload renews workers, stop stops it all", async () => {
    const dir = tempDir();
    const runtimeDir = join(dir, "run");
    const httpPort = await freePort();
    const redisPort = await freePort();
    const env = {
      PUSHGATE_LISTEN: `0.0.0.0:${httpPort}`,
      PUSHGATE_LOCAL_REDIS: `127.0.0.1:${redisPort}`,
      PUSHGATE_RUNTIME_DIR: runtimeDir,
      PUSHGATE_WORKERS: "2",
    };
    const run = launch(env);
    await ready(run, runtimeDir);
    // the examples use an address a client can reach, not 0.0.0.0
    expect(run.output()).toContain(`curl -N 'http://127.0.0.1:${httpPort}/sub?key=abc'`);
    expect(readFileSync(join(runtimeDir, "pushgate.pid"), "utf8").trim()).toBe(`${run.child.pid}`);
    const nginxPid = Number(readFileSync(join(runtimeDir, "nginx.pid"), "utf8").trim());
    const redisPid = state(runtimeDir).localRedis!.pid;

    const status = await pushgate("status", env);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(`launcher:   pid ${run.child.pid}`);
    expect(status.stdout).toContain(`nginx:      master pid ${nginxPid}, worker pids ${childPids(nginxPid).join(" ")}`);
    expect(status.stdout).toContain(`listening:  http://127.0.0.1:${httpPort}`);
    expect(status.stdout).toContain(
      `redis:      redis://127.0.0.1:${redisPort}/0 (started by the launcher: pid ${redisPid}, data in ${runtimeDir}/redis, appendfsync everysec)`,
    );
    expect(status.stdout).toMatch(/gateway: {4}shared mode, \d workers reporting/);

    // pushgate reload: new workers under the same master
    const before = childPids(nginxPid);
    const reload = await pushgate("reload", env);
    expect(reload.code).toBe(0);
    expect(reload.stdout).toContain(`pushgate reloaded: nginx master pid ${nginxPid} runs new workers`);
    expect(await eventually(() => childPids(nginxPid).every((pid) => !before.includes(pid)), 10000)).toBe(true);

    // the nginx-level reload exactly as README prints it, typed in the directory holding run/
    const reloaded = childPids(nginxPid);
    const nginxReload = await new Promise<number>((done) =>
      execFile(findNginx(), ["-p", "run", "-c", "nginx.conf", "-s", "reload"], { cwd: dir }, (error) => done(error === null ? 0 : 1)),
    );
    expect(nginxReload).toBe(0);
    expect(await eventually(() => childPids(nginxPid).every((pid) => !reloaded.includes(pid)), 10000)).toBe(true);
    // readiness: the new workers' hubs connect and report
    expect(await eventually(async () => (await fetchText(`http://127.0.0.1:${httpPort}/healthz`)).status === 200, 5000)).toBe(true);

    const stop = await pushgate("stop", env);
    expect(stop.code).toBe(0);
    expect(stop.stdout).toContain(`pushgate stopped (launcher pid ${run.child.pid})`);
    expect(await run.exit).toBe(0);
    expect(groupMembers(nginxPid)).toEqual([]);
    expect(alive(redisPid)).toBe(false);
    expect(existsSync(join(runtimeDir, "pushgate.pid"))).toBe(false);
    expect(existsSync(join(runtimeDir, "pushgate.json"))).toBe(false);
    expect((await pushgate("status", env)).code).toBe(1);
  });

  test("a second launcher on the same runtime directory is refused", async () => {
    const runtimeDir = join(tempDir(), "run");
    const redis = await startRedis("127.0.0.1", await freePort(), join(runtimeDir, "..", "redis"));
    redisServers.push(redis);
    const env = { PUSHGATE_LISTEN: `127.0.0.1:${await freePort()}`, PUSHGATE_REDIS_URL: redis.url, PUSHGATE_RUNTIME_DIR: runtimeDir, PUSHGATE_WORKERS: "1" };
    const first = launch(env);
    await ready(first, runtimeDir);
    const second = launch({ ...env, PUSHGATE_LISTEN: `127.0.0.1:${await freePort()}` });
    expect(await second.exit).toBe(1);
    expect(second.output()).toContain(`pushgate: already running (launcher pid ${first.child.pid}`);
    expect(readFileSync(join(runtimeDir, "pushgate.pid"), "utf8").trim()).toBe(`${first.child.pid}`);
    first.child.kill("SIGTERM");
    expect(await first.exit).toBe(0);
  });
});

describe("nothing left behind", () => {
  test("killing the nginx master (external Redis): the launcher stops its workers, says why and exits 1", async () => {
    const dir = tempDir();
    const runtimeDir = join(dir, "run");
    const redis = await startRedis("127.0.0.1", await freePort(), join(dir, "redis"));
    redisServers.push(redis);
    const run = launch({
      PUSHGATE_LISTEN: `127.0.0.1:${await freePort()}`,
      PUSHGATE_REDIS_URL: redis.url,
      PUSHGATE_RUNTIME_DIR: runtimeDir,
      PUSHGATE_WORKERS: "2",
    });
    await ready(run, runtimeDir);
    const nginxPid = Number(readFileSync(join(runtimeDir, "nginx.pid"), "utf8").trim());
    const workers = childPids(nginxPid);
    expect(workers).toHaveLength(2);
    process.kill(nginxPid, "SIGKILL");
    expect(await run.exit).toBe(1);
    expect(run.output()).toContain("pushgate: nginx exited (killed by SIGKILL)");
    expect(workers.filter(alive)).toEqual([]);
    expect(groupMembers(nginxPid)).toEqual([]);
    expect(existsSync(join(runtimeDir, "pushgate.pid"))).toBe(false);
    // the external Redis is not the launcher's to stop
    expect(await redisAnswers("127.0.0.1", redis.port)).toBe(true);
  });

  test("killing the Redis the launcher started: it stops nginx, says why and exits 1", async () => {
    const runtimeDir = join(tempDir(), "run");
    const run = launch({
      PUSHGATE_LISTEN: `127.0.0.1:${await freePort()}`,
      PUSHGATE_LOCAL_REDIS: `127.0.0.1:${await freePort()}`,
      PUSHGATE_RUNTIME_DIR: runtimeDir,
      PUSHGATE_WORKERS: "1",
    });
    await ready(run, runtimeDir);
    const { nginxPid, localRedis } = state(runtimeDir);
    process.kill(localRedis!.pid, "SIGKILL");
    expect(await run.exit).toBe(1);
    expect(run.output()).toContain("pushgate: the Redis the launcher started exited (killed by SIGKILL): stopping nginx");
    expect(groupMembers(nginxPid!)).toEqual([]);
  });

  test("a launcher killed hard leaves nginx and its Redis running: the next start stops them first", async () => {
    const runtimeDir = join(tempDir(), "run");
    const env = {
      PUSHGATE_LISTEN: `127.0.0.1:${await freePort()}`,
      PUSHGATE_LOCAL_REDIS: `127.0.0.1:${await freePort()}`,
      PUSHGATE_RUNTIME_DIR: runtimeDir,
      PUSHGATE_WORKERS: "1",
    };
    const first = launch(env);
    await ready(first, runtimeDir);
    const { nginxPid, localRedis } = state(runtimeDir);
    first.child.kill("SIGKILL");
    await first.exit;
    expect(groupMembers(nginxPid!).length).toBeGreaterThan(0);
    expect(alive(localRedis!.pid)).toBe(true);
    expect((await pushgate("status", env)).code).toBe(1);

    const second = launch(env);
    await ready(second, runtimeDir);
    expect(second.output()).toContain(`pushgate: the previous launcher died without stopping its nginx (pid ${nginxPid}): stopping it`);
    expect(second.output()).toContain(`pushgate: the previous launcher died without stopping its Redis (pid ${localRedis!.pid}): stopping it`);
    expect(groupMembers(nginxPid!)).toEqual([]);
    expect(alive(localRedis!.pid)).toBe(false);
    second.child.kill("SIGTERM");
    expect(await second.exit).toBe(0);
  });

  test("npm killed hard (no signal passed on): the orphaned launcher notices and stops everything", async () => {
    const dir = tempDir();
    const runtimeDir = join(dir, "run");
    writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "launcher-under-npm", private: true, scripts: { start: `exec node ${LAUNCHER}` } }));
    const env = { PUSHGATE_LISTEN: `127.0.0.1:${await freePort()}`, PUSHGATE_LOCAL_REDIS: `127.0.0.1:${await freePort()}`, PUSHGATE_RUNTIME_DIR: runtimeDir };
    const npm = spawn("npm", ["start"], { cwd: dir, env: { ...cleanEnv(), ...env, PUSHGATE_WORKERS: "1" }, stdio: ["ignore", "pipe", "ignore"] });
    let out = "";
    npm.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    const exit = new Promise<number | null>((done) => npm.on("exit", (code) => done(code)));
    runs.push({ child: npm, output: () => out, exit });
    expect(await eventually(() => out.includes("pushgate: ready"), 20000, 50)).toBe(true);
    const launcherPid = Number(readFileSync(join(runtimeDir, "pushgate.pid"), "utf8").trim());
    const { nginxPid, localRedis } = state(runtimeDir);
    groups.push(nginxPid!, localRedis!.pid);
    npm.kill("SIGKILL");
    await exit;
    expect(await eventually(() => !alive(launcherPid), 20000)).toBe(true);
    expect(groupMembers(nginxPid!)).toEqual([]);
    expect(alive(localRedis!.pid)).toBe(false);
    expect(existsSync(join(runtimeDir, "pushgate.pid"))).toBe(false);
  });

  test("npm forwards SIGTERM to a launcher its start script execs: everything stops, npm exits 0", async () => {
    const start = (JSON.parse(readFileSync(resolve(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts.start;
    expect(start).toBe("exec bash scripts/start");
    // the same shape without scripts/start's install-and-build step: npm -> sh -c "exec ..." -> node
    const dir = tempDir();
    const runtimeDir = join(dir, "run");
    writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "launcher-under-npm", private: true, scripts: { start: `exec node ${LAUNCHER}` } }));
    const env = { PUSHGATE_LISTEN: `127.0.0.1:${await freePort()}`, PUSHGATE_LOCAL_REDIS: `127.0.0.1:${await freePort()}`, PUSHGATE_RUNTIME_DIR: runtimeDir };
    const npm = spawn("npm", ["start"], { cwd: dir, env: { ...cleanEnv(), ...env, PUSHGATE_WORKERS: "1" }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    npm.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    npm.stderr.on("data", (chunk: Buffer) => (out += chunk.toString()));
    const exit = new Promise<number | null>((done) => npm.on("exit", (code) => done(code)));
    runs.push({ child: npm, output: () => out, exit });
    expect(await eventually(() => out.includes("pushgate: ready"), 20000, 50)).toBe(true);
    const launcherPid = Number(readFileSync(join(runtimeDir, "pushgate.pid"), "utf8").trim());
    const { nginxPid, localRedis } = state(runtimeDir);
    groups.push(nginxPid!, localRedis!.pid);
    npm.kill("SIGTERM");
    expect(await exit).toBe(0);
    expect(await eventually(() => !alive(launcherPid), 20000)).toBe(true);
    expect(groupMembers(nginxPid!)).toEqual([]);
    expect(alive(localRedis!.pid)).toBe(false);
  });
});

describe("the local Redis keeps what it promises", () => {
  test("a message published with POST /pub is read back with ?since=oldest after the launcher restarts", async () => {
    const runtimeDir = join(tempDir(), "run");
    const httpPort = await freePort();
    const redisPort = await freePort();
    const env = {
      PUSHGATE_LISTEN: `127.0.0.1:${httpPort}`,
      PUSHGATE_LOCAL_REDIS: `127.0.0.1:${redisPort}`,
      PUSHGATE_RUNTIME_DIR: runtimeDir,
      PUSHGATE_REDIS_FSYNC: "always",
      PUSHGATE_WORKERS: "1",
    };
    const first = launch(env);
    await ready(first, runtimeDir);
    expect(first.output()).toContain(`started a local Redis at 127.0.0.1:${redisPort}`);
    expect(first.output()).toContain("append-only file, appendfsync always");
    const published = await fetchText(`http://127.0.0.1:${httpPort}/pub?channel=durable`, { method: "POST", body: "kept" });
    expect(published.status).toBe(200);
    const id = (JSON.parse(published.body) as { id: string }).id;
    first.child.kill("SIGTERM");
    expect(await first.exit).toBe(0);
    expect(await redisAnswers("127.0.0.1", redisPort)).toBe(false);

    const second = launch(env);
    await ready(second, runtimeDir);
    // a new Redis, started on the same files
    expect(second.output()).toContain(`started a local Redis at 127.0.0.1:${redisPort}`);
    const stream = await new Stream(`http://127.0.0.1:${httpPort}/sub?key=durable&since=oldest`).open();
    expect(await stream.waitForMessages(1)).toEqual([{ type: "message", channel: "durable", id, data: "kept" }]);
    stream.close();
    second.child.kill("SIGTERM");
    expect(await second.exit).toBe(0);
  });
});

describe("start-up tells the truth", () => {
  test("while it waits for Redis, pushgate stop stops it (exit 0, nothing left)", async () => {
    const runtimeDir = join(tempDir(), "run");
    const redisPort = await freePort();
    const env = { PUSHGATE_LISTEN: `127.0.0.1:${await freePort()}`, PUSHGATE_REDIS_URL: `redis://127.0.0.1:${redisPort}`, PUSHGATE_RUNTIME_DIR: runtimeDir };
    const run = launch(env);
    expect(await eventually(() => run.output().includes(`pushgate: waiting for Redis at 127.0.0.1:${redisPort}`), 10000)).toBe(true);
    const stop = await pushgate("stop", env);
    expect(stop.code).toBe(0);
    expect(await run.exit).toBe(0);
    expect(run.output()).not.toContain("ready");
    expect(existsSync(join(runtimeDir, "pushgate.pid"))).toBe(false);
  });

  test("ready is not printed while Redis does not answer; the launcher says it waits, then starts once it does", async () => {
    const dir = tempDir();
    const runtimeDir = join(dir, "run");
    const httpPort = await freePort();
    const redisPort = await freePort();
    const env = {
      PUSHGATE_LISTEN: `127.0.0.1:${httpPort}`,
      PUSHGATE_REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      PUSHGATE_RUNTIME_DIR: runtimeDir,
      PUSHGATE_WORKERS: "1",
    };
    const run = launch(env);
    expect(await eventually(() => run.output().includes(`pushgate: waiting for Redis at 127.0.0.1:${redisPort}`), 10000)).toBe(true);
    await sleep(1500);
    expect(run.output()).not.toContain("ready");
    expect(run.child.exitCode).toBeNull();
    const status = await pushgate("status", env);
    expect(status.stdout).toContain("pushgate is running (waiting for redis)");
    expect(status.stdout).toContain("nginx:      not started yet");
    await expect(fetchText(`http://127.0.0.1:${httpPort}/healthz`)).rejects.toThrow();

    const redis = await startRedis("127.0.0.1", redisPort, join(dir, "redis"));
    redisServers.push(redis);
    await ready(run, runtimeDir);
    expect((await fetchText(`http://127.0.0.1:${httpPort}/healthz`)).status).toBe(200);

    // once ready, an external Redis going away is the gateway's to ride out: the launcher stays
    redis.process.kill("SIGKILL");
    await new Promise((done) => redis.process.once("exit", done));
    await sleep(1500);
    expect(run.child.exitCode).toBeNull();
    expect((await fetchText(`http://127.0.0.1:${httpPort}/sub?key=abc`)).status).toBe(503);
    run.child.kill("SIGTERM");
    expect(await run.exit).toBe(0);
  });
});
