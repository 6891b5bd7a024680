// The launcher behind `npm start` and `pushgate start`: checks the settings, writes its pid file,
// finds or starts Redis and waits until it answers, starts nginx, says `ready` with addresses a
// client can use, and from then on keeps them together: if nginx or the Redis it started dies it
// stops the rest and exits 1; SIGINT/SIGTERM stop everything (exit 0); SIGHUP reloads nginx.

import "./multi";
import { mkdirSync, rmSync } from "node:fs";
import { resolve } from "node:path";
import { Settings } from "../config/schema";
import { clientAddress, redisLabel } from "./addresses";
import { Gateway, redisAnswers, startGateway, stopGroup } from "./gateway";
import { LocalRedis, useOrStartLocalRedis } from "./local-redis";
import { LauncherState, leftovers, removeFiles, runningLauncher, writePid, writeState } from "./runtime-files";
import { SettingsError, loadSettings } from "./settings";

/** How often the launcher repeats that it is still waiting for Redis. */
const WAITING_NOTICE_MS = 10000;

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

function how(code: number | null, signal: NodeJS.Signals | null): string {
  return signal !== null ? `killed by ${signal}` : `exit code ${code}`;
}

/**
 * Under `npm start`, npm's pid is the one a user signals (`npm start &` then `kill $!`): npm
 * forwards SIGINT/SIGTERM to the launcher (package.json's start script execs it), and if npm dies
 * without doing so (SIGKILL), the launcher notices it was orphaned and stops.
 */
function watchNpm(env: NodeJS.ProcessEnv, gone: (why: string) => void): void {
  if (env.npm_lifecycle_event === undefined) {
    return;
  }
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) {
      gone(`npm (pid ${parent}), which started the launcher, is gone: stopping`);
    }
  }, 1000).unref();
}

function settingsOrExit(env: NodeJS.ProcessEnv): Settings {
  try {
    return loadSettings(env);
  } catch (e) {
    if (e instanceof SettingsError) {
      console.error(`pushgate: ${e.message}`);
      process.exit(2);
    }
    throw e;
  }
}

/** Runs the gateway in the foreground until it is stopped or a part of it dies. */
export async function launch(env: NodeJS.ProcessEnv): Promise<void> {
  let settings = settingsOrExit(env);
  const runtimeDir = resolve(settings.runtimeDir);
  mkdirSync(runtimeDir, { recursive: true });
  const running = runningLauncher(runtimeDir);
  if (running !== undefined) {
    console.error(`pushgate: already running (launcher pid ${running}, runtime directory ${runtimeDir}); stop it first: npm run stop`);
    process.exit(1);
  }
  for (const left of leftovers(runtimeDir)) {
    console.log(`pushgate: the previous launcher died without stopping its ${left.what} (pid ${left.pid}): stopping it`);
    await stopGroup(left.pid, 10000);
  }
  writePid(runtimeDir, process.pid);
  process.on("exit", () => removeFiles(runtimeDir, process.pid));

  const urls = settings.listen.map((listen) => `http://${clientAddress(listen)}`);
  const state: LauncherState = { pid: process.pid, phase: "starting", runtimeDir, urls, redis: [], startedAt: new Date().toISOString() };
  let local: LocalRedis | undefined;
  let gateway: Gateway | undefined;
  // a stop that comes while Redis or nginx is starting waits for them, so as to stop them too
  let localStarting: Promise<LocalRedis | undefined> | undefined = undefined;
  let gatewayStarting: Promise<Gateway | undefined> | undefined = undefined;
  let stopping = false;

  const finish = async (code: number, why?: string): Promise<void> => {
    if (stopping) {
      return;
    }
    stopping = true;
    if (why !== undefined) {
      console.error(`pushgate: ${why}`);
    }
    console.log(code === 0 ? "pushgate: stopping" : "pushgate: stopping what is left, then exiting with code 1");
    gateway = gateway ?? (await gatewayStarting);
    local = local ?? (await localStarting);
    if (gateway !== undefined) {
      await gateway.stop();
      // workers of a master that died are still in its process group
      await stopGroup(gateway.process.pid!);
      // a master killed hard leaves its pid file behind, naming a process that is gone
      rmSync(resolve(runtimeDir, "nginx.pid"), { force: true });
    }
    await local?.server?.stop();
    removeFiles(runtimeDir, process.pid);
    process.exit(code);
  };
  process.on("SIGINT", () => void finish(0));
  process.on("SIGTERM", () => void finish(0));
  process.on("SIGHUP", () => {
    if (gateway !== undefined && !stopping) {
      console.log("pushgate: reloading nginx (new workers; open streams are told to reconnect)");
      gateway.reload();
    }
  });
  process.on("uncaughtException", (e) => void finish(1, `failed: ${e.stack ?? e.message}`));
  watchNpm(env, (why) => void finish(1, why));

  if (settings.redis.length === 0) {
    const starting = useOrStartLocalRedis(settings);
    localStarting = starting.catch(() => undefined);
    try {
      local = await starting;
    } catch (e) {
      return finish(1, `failed to start a local Redis at ${settings.localRedis}: ${(e as Error).message}`);
    }
    if (stopping) {
      return; // finish stops it
    }
    settings = { ...settings, redisUrl: local.address.url, redis: [local.address] };
    const server = local.server;
    if (server === undefined) {
      console.log(`pushgate: using the Redis that answers at ${settings.localRedis} (not started by the launcher: its data is its own business)`);
    } else {
      console.log(
        `pushgate: started a local Redis at ${settings.localRedis} (pid ${server.process.pid}; data in ${local.dir}, ` +
          `append-only file, appendfsync ${settings.redisFsync}; stopped with the gateway)`,
      );
      state.localRedis = { pid: server.process.pid!, dir: local.dir, fsync: settings.redisFsync };
      const died = (code: number | null, signal: NodeJS.Signals | null): void =>
        void finish(1, `the Redis the launcher started exited (${how(code, signal)}): stopping nginx`);
      server.process.on("exit", died);
      if (server.process.exitCode !== null || server.process.signalCode !== null) {
        died(server.process.exitCode, server.process.signalCode);
      }
    }
  }
  state.redis = settings.redis.map(redisLabel);
  state.phase = "waiting for redis";
  writeState(state);

  // ready only once Redis answers: until then say so, and keep trying until stopped
  const first = settings.redis[0];
  let noticeAt = 0;
  while (!(await redisAnswers(first.host, first.port))) {
    if (stopping) {
      return;
    }
    if (Date.now() >= noticeAt) {
      console.log(`pushgate: waiting for Redis at ${first.host}:${first.port} (it does not answer yet; Ctrl-C or npm run stop gives up)`);
      noticeAt = Date.now() + WAITING_NOTICE_MS;
    }
    await sleep(250);
  }
  for (const other of settings.redis.slice(1)) {
    if (!(await redisAnswers(other.host, other.port))) {
      console.warn(`pushgate: WARNING: Redis at ${other.host}:${other.port} does not answer (the gateway retries it)`);
    }
  }
  if (stopping) {
    return;
  }

  const authOn = settings.jwtSecret.length > 0 || settings.jwtPublicKeys.length > 0 || settings.jwksFile.length > 0 || settings.authUrl.length > 0;
  if (!authOn) {
    console.warn("pushgate: WARNING: PUSHGATE_JWT_SECRET is not set: anyone may subscribe to any channel and publish. Set it in production.");
  }
  const starting = startGateway(settings, "inherit", { ownGroup: true });
  gatewayStarting = starting.catch(() => undefined);
  try {
    gateway = await starting;
  } catch (e) {
    return finish(1, (e as Error).message);
  }
  if (stopping) {
    return; // finish stops it
  }
  const nginx = gateway.process;
  const died = (code: number | null, signal: NodeJS.Signals | null): void =>
    void finish(1, `nginx exited (${how(code, signal)})${local?.server !== undefined ? ": stopping the Redis the launcher started" : ""}`);
  nginx.on("exit", died);
  if (nginx.exitCode !== null || nginx.signalCode !== null) {
    died(nginx.exitCode, nginx.signalCode);
  }
  state.phase = "ready";
  state.nginxPid = nginx.pid;
  state.confPath = gateway.confPath;
  writeState(state);

  const base = urls[0];
  console.log(`pushgate: ready (${settings.mode} mode, ${settings.workers} workers), logs in ${gateway.errorLog}
  subscribe:  curl -N '${base}/sub?key=abc'
  publish:    redis-cli -h ${first.host} -p ${first.port} PUBLISH abc 123
         or:  curl -d 123 '${base}/pub?channel=abc'
  operate:    npm run status | npm run reload | npm run stop (launcher pid ${process.pid} in ${runtimeDir}/pushgate.pid)
Ctrl-C stops nginx${local?.server !== undefined ? " and the Redis it started" : ""}.`);
}
