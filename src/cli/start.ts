// `npm start`: validates the settings, starts a local Redis when none is configured or answering,
// starts nginx in the foreground, prints how to try it, and stops what it started on Ctrl-C.

import "./multi";
import { resolve } from "node:path";
import { SettingsError, loadSettings } from "./settings";
import { Gateway, RedisServer, redisAnswers, startGateway, startRedis } from "./gateway";
import { Settings, parseRedisUrl } from "../config/schema";

const LOCAL_REDIS = { host: "127.0.0.1", port: 6379 };

async function main(): Promise<void> {
  let settings: Settings;
  try {
    settings = loadSettings(process.env);
  } catch (e) {
    if (e instanceof SettingsError) {
      console.error(`pushgate: ${e.message}`);
      process.exit(2);
    }
    throw e;
  }

  let redis: RedisServer | undefined;
  if (settings.redis.length === 0) {
    const url = `redis://${LOCAL_REDIS.host}:${LOCAL_REDIS.port}/0`;
    if (await redisAnswers(LOCAL_REDIS.host, LOCAL_REDIS.port)) {
      console.log(`pushgate: using the Redis that answers at ${LOCAL_REDIS.host}:${LOCAL_REDIS.port}`);
    } else {
      redis = await startRedis(LOCAL_REDIS.host, LOCAL_REDIS.port, resolve(settings.runtimeDir, "redis"));
      console.log(`pushgate: started a local Redis at ${LOCAL_REDIS.host}:${LOCAL_REDIS.port} (stopped with the gateway)`);
    }
    const [address] = parseRedisUrl(url);
    settings = { ...settings, redisUrl: url, redis: [address!] };
  }

  if (settings.jwtSecret.length === 0) {
    console.warn("pushgate: WARNING: PUSHGATE_JWT_SECRET is not set: anyone may subscribe to any channel and publish. Set it in production.");
  }

  let gateway: Gateway;
  try {
    gateway = await startGateway(settings);
  } catch (e) {
    console.error(`pushgate: ${(e as Error).message}`);
    await redis?.stop();
    process.exit(1);
  }

  const base = `http://${settings.listen[0].replace(/^\*:/, "127.0.0.1:").replace(/^(\d+)$/, "127.0.0.1:$1")}`;
  const first = settings.redis[0];
  console.log(`pushgate: ready (${settings.mode} mode, ${settings.workers} workers), logs in ${gateway.errorLog}
  subscribe:  curl -N '${base}/sub?key=abc'
  publish:    redis-cli -h ${first.host} -p ${first.port} PUBLISH abc 123
         or:  curl -d 123 '${base}/pub?channel=abc'
Ctrl-C stops nginx${redis !== undefined ? " and the Redis it started" : ""}.`);

  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) {
      return;
    }
    stopping = true;
    console.log("pushgate: stopping");
    await gateway.stop();
    await redis?.stop();
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  process.on("SIGHUP", () => gateway.reload());
  gateway.process.on("exit", (code) => {
    if (!stopping) {
      console.error(`pushgate: nginx exited (code ${code})`);
      void redis?.stop().then(() => process.exit(1));
    }
  });
}

void main();
