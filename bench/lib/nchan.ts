// Starts Nchan (Debian's libnginx-mod-nchan) on the same nginx binary as Pushgate, from
// bench/nchan.conf, with either its memory store or Redis storage.

import { existsSync } from "node:fs";
import { HttpPublisher } from "./http-publisher";
import { NginxServer, renderTemplate, startNginx } from "./nginx";
import { Target } from "./protocol";

export const NCHAN_MODULE = "/usr/lib/nginx/modules/ngx_nchan_module.so";

export interface NchanOptions {
  nginx: string;
  runtimeDir: string;
  listen: Target[];
  workers: number;
  workerConnections: number;
  workerRlimitNofile: number;
  /** Redis storage when given, else the memory store. */
  redisUrl?: string;
  sharedMemory: string;
  /** nchan_message_buffer_length: messages kept per channel. */
  messageBufferLength: number;
  logLevel: string;
}

/** Why Nchan cannot run here, or undefined when it can. */
export function nchanUnavailable(): string | undefined {
  if (!existsSync(NCHAN_MODULE)) {
    return `${NCHAN_MODULE} is missing: apt-get update && apt-get install libnginx-mod-nchan`;
  }
  return undefined;
}

/** Answers undefined once a publish is accepted (so Redis is connected, when used). */
async function publishAccepted(target: Target): Promise<string | undefined> {
  const publisher = await HttpPublisher.open(target, 1);
  try {
    const statuses = await publisher.send([{ path: "/pub/bench-ready", body: "ready" }]);
    return (statuses["201"] ?? 0) + (statuses["202"] ?? 0) > 0 ? undefined : `publish answered ${JSON.stringify(statuses)}`;
  } finally {
    publisher.close();
  }
}

export function startNchan(options: NchanOptions): Promise<NginxServer> {
  const config = renderTemplate("nchan.conf", {
    nchan_module: NCHAN_MODULE,
    workers: `${options.workers}`,
    worker_rlimit_nofile: `${options.workerRlimitNofile}`,
    worker_connections: `${options.workerConnections}`,
    runtime_dir: options.runtimeDir,
    log_level: options.logLevel,
    shared_memory: options.sharedMemory,
    message_buffer_length: `${options.messageBufferLength}`,
    listen_directives: options.listen.map((t) => `        listen ${t.host}:${t.port} reuseport backlog=4096;`).join("\n"),
    redis_upstream: options.redisUrl !== undefined ? `    upstream bench_redis {\n        nchan_redis_server ${options.redisUrl};\n    }` : "",
    redis_pass: options.redisUrl !== undefined ? "            nchan_redis_pass bench_redis;" : "",
  });
  return startNginx(options.nginx, options.runtimeDir, config, () => publishAccepted(options.listen[0]));
}
