// `npm run redis:cluster`: starts a local Redis Cluster (3 primaries, 3 replicas) on free loopback
// ports for trying cluster mode, prints the PUSHGATE_REDIS_URL that names it, and stops it on
// Ctrl-C or SIGTERM.

import "./multi";
import { Cluster, startCluster } from "./cluster";

async function main(): Promise<void> {
  let cluster: Cluster;
  try {
    cluster = await startCluster({ primaries: 3, replicasPerPrimary: 1, nodeTimeoutMs: 2000 });
  } catch (e) {
    console.error(`pushgate: failed to start a Redis Cluster: ${(e as Error).message}`);
    process.exit(1);
  }
  const first = cluster.nodes[0];
  console.log(`pushgate: a Redis Cluster is up: ${cluster.primaries().length} primaries, ${cluster.replicas().length} replicas, files in ${cluster.dir}
${cluster.nodes.map((node) => `  ${node.role.padEnd(8)} ${node.host}:${node.port} (pid ${node.pid})`).join("\n")}
Use it with:
PUSHGATE_REDIS_URL=${cluster.url}
  try:  redis-cli -c -h ${first.host} -p ${first.port} SPUBLISH abc 123
Ctrl-C stops the cluster.`);

  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) {
      return;
    }
    stopping = true;
    console.log("pushgate: stopping the Redis Cluster");
    await cluster.stop();
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

void main();
