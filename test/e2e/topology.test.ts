// The local topologies of src/cli/cluster against real redis-server processes: a 3-primary,
// 3-replica Redis Cluster that forms, routes sharded pub/sub and fails over when a primary is
// killed; a primary, a replica and three sentinels that follow a killed primary. The cluster
// also checks src/protocol/slot against CLUSTER KEYSLOT for keys made up on the spot.

import "../../src/cli/multi";
import { randomBytes } from "node:crypto";
import { createCluster } from "redis";
import { Cluster, infoFields, parseClusterNodes, redisCall, RedisErrorReply, startCluster } from "../../src/cli/cluster";
import { SentinelSetup, startSentinel } from "../../src/cli/sentinel";
import { keySlot } from "../../src/protocol/slot";
import { eventually } from "./harness";

async function text(host: string, port: number, args: string[]): Promise<string> {
  const reply = await redisCall(host, port, args);
  if (typeof reply !== "string") {
    throw new Error(`${args.join(" ")}: ${JSON.stringify(reply)}`);
  }
  return reply;
}

describe("a local Redis Cluster", () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster({ primaries: 3, replicasPerPrimary: 1, nodeTimeoutMs: 1000 });
  }, 30000);

  afterAll(async () => {
    await cluster?.stop();
  });

  test("forms with 3 primaries, 3 replicas in sync, every slot served", async () => {
    expect(cluster.nodes).toHaveLength(6);
    expect(cluster.primaries()).toHaveLength(3);
    expect(cluster.replicas()).toHaveLength(3);
    expect(cluster.url).toBe(`redis+cluster://${cluster.nodes.map((node) => `127.0.0.1:${node.port}`).join(",")}`);
    for (const node of cluster.nodes) {
      const info = infoFields(await text(node.host, node.port, ["CLUSTER", "INFO"]));
      expect(info).toMatchObject({ cluster_state: "ok", cluster_slots_assigned: "16384", cluster_known_nodes: "6", cluster_size: "3" });
      expect(process.kill(node.pid, 0)).toBe(true);
    }
    const ids = new Set(cluster.primaries().map((node) => node.id));
    for (const replica of cluster.replicas()) {
      expect(ids.has(replica.primaryId)).toBe(true);
      expect(infoFields(await text(replica.host, replica.port, ["INFO", "replication"]))).toMatchObject({ role: "slave", master_link_status: "up" });
    }
  });

  test("keySlot agrees with CLUSTER KEYSLOT for fresh random keys", async () => {
    const node = cluster.nodes[0];
    for (let i = 0; i < 100; i++) {
      // random bytes made into text (multi-byte characters where they are not ASCII), and a brace now and then
      const key = `${randomBytes(1 + (i % 20)).toString("utf8")}${i % 3 === 0 ? `{${randomBytes(i % 4).toString("base64")}}` : ""}x`;
      const expected = await redisCall(node.host, node.port, ["CLUSTER", "KEYSLOT", key]);
      expect([key, keySlot(Buffer.from(key, "utf8").toString("latin1"))]).toEqual([key, expected]);
    }
  });

  test("sharded pub/sub: SPUBLISH reaches an SSUBSCRIBEr, on the channel's own shard only", async () => {
    const client = createCluster({ rootNodes: [{ url: `redis://127.0.0.1:${cluster.nodes[0].port}` }] });
    client.on("error", () => undefined);
    await client.connect();
    try {
      const channel = "pushgate:{room:1}:live";
      const received: string[] = [];
      await client.sSubscribe(channel, (message) => received.push(message));
      expect(await client.sPublish(channel, "hello shard")).toBe(1);
      expect(await eventually(() => received.length === 1, 3000)).toBe(true);
      expect(received).toEqual(["hello shard"]);

      // a primary that does not own the slot redirects the publisher to the one that does
      const slot = keySlot(channel);
      const owners = await Promise.all(
        cluster.primaries().map(async (node) => {
          const self = parseClusterNodes(await text(node.host, node.port, ["CLUSTER", "NODES"])).find((entry) => entry.flags.includes("myself"))!;
          return { node, owns: self.slots.some((range) => slotInRange(slot, range)) };
        }),
      );
      expect(owners.filter((owner) => owner.owns)).toHaveLength(1);
      const owner = owners.find((each) => each.owns)!.node;
      const other = owners.find((each) => !each.owns)!.node;
      const redirect = await redisCall(other.host, other.port, ["SPUBLISH", channel, "wrong shard"]);
      expect(redirect).toBeInstanceOf(RedisErrorReply);
      expect((redirect as RedisErrorReply).message).toBe(`MOVED ${slot} 127.0.0.1:${owner.port}`);
      expect(await redisCall(owner.host, owner.port, ["PUBSUB", "SHARDNUMSUB", channel])).toEqual([channel, 1]);
    } finally {
      await client.close().catch(() => undefined);
    }
  });

  test("killing a primary promotes its replica within a few seconds", async () => {
    const victim = cluster.primaries()[0];
    const replica = cluster.replicas().find((node) => node.primaryId === victim.id)!;
    const slotsBefore = parseClusterNodes(await text(replica.host, replica.port, ["CLUSTER", "NODES"])).find((entry) => entry.id === victim.id)!.slots;
    const killedAt = Date.now();
    await cluster.kill(victim);
    const promoted = await cluster.waitForPromotion(victim, 10000);
    expect(Date.now() - killedAt).toBeLessThan(10000);
    expect(promoted).toBe(replica);
    expect(promoted.role).toBe("primary");
    const self = parseClusterNodes(await text(promoted.host, promoted.port, ["CLUSTER", "NODES"])).find((entry) => entry.flags.includes("myself"))!;
    expect(self.slots).toEqual(slotsBefore);
    expect(infoFields(await text(promoted.host, promoted.port, ["CLUSTER", "INFO"])).cluster_state).toBe("ok");
  }, 20000);
});

function slotInRange(slot: number, range: string): boolean {
  const [from, to] = range.split("-").map(Number);
  return slot >= from && slot <= (to ?? from);
}

describe("a local Sentinel setup", () => {
  let setup: SentinelSetup;

  beforeAll(async () => {
    setup = await startSentinel({ replicas: 1, sentinels: 3 });
  }, 30000);

  afterAll(async () => {
    await setup?.stop();
  });

  test("every sentinel names the primary", async () => {
    const primary = setup.primary();
    expect(setup.sentinels).toHaveLength(3);
    expect(setup.url).toBe(`redis+sentinel://${setup.sentinels.map((node) => `127.0.0.1:${node.port}`).join(",")}/pushgate`);
    for (const sentinel of setup.sentinels) {
      expect(await setup.masterAddress(sentinel)).toBe(`127.0.0.1:${primary.port}`);
    }
  });

  test("the sentinels follow a killed primary to its replica", async () => {
    const old = setup.primary();
    const replica = setup.replicas()[0];
    await redisCall(old.host, old.port, ["SET", "before-failover", "kept"]);
    await eventually(async () => (await redisCall(replica.host, replica.port, ["GET", "before-failover"])) === "kept", 3000);
    await setup.kill(old);
    const promoted = await setup.waitForNewPrimary(old, 20000);
    expect(promoted).toBe(replica);
    for (const sentinel of setup.sentinels) {
      expect(await setup.masterAddress(sentinel)).toBe(`127.0.0.1:${replica.port}`);
    }
    expect(await redisCall(replica.host, replica.port, ["GET", "before-failover"])).toBe("kept");
    expect(await redisCall(replica.host, replica.port, ["SET", "after-failover", "written"])).toBe("OK");
  }, 25000);
});
