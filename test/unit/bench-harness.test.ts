// The benchmark harness's own logic that a run's figures rest on: the durable setup publishes
// exactly as a backend does (the SDK's FCALL), a size the machine cannot hold is refused with what
// to change, and the flame-graph script folds perf's stacks as flame-graph tools expect.

import { fold } from "../../bench/flame";
import { capacityProblems, CapacityInput } from "../../bench/lib/capacity";
import { redisPublishArgs, redisRefusal } from "../../bench/lib/publishers";
import { RedisError } from "../../bench/lib/resp";
import { WorkloadOptions } from "../../bench/lib/workloads";
import { publishDurable } from "../../sdk";

describe("the bench's durable publish", () => {
  it("sends FCALL pushgate_publish with the keys and arguments of the SDK's publishDurable", async () => {
    let sent: Array<string | Buffer> = [];
    await publishDurable(
      {
        sendCommand: (args) => {
          sent = args;
          return Promise.resolve(["1-0", 1, 0]);
        },
      },
      "abc",
      "hello",
    );
    expect(redisPublishArgs("FCALL", "abc", "hello")).toEqual(sent);
  });

  it("counts a Redis error or an unexpected reply as refused, an id or a count as accepted", () => {
    expect(redisRefusal("FCALL", ["1795387961487-0", 1, 0])).toBeUndefined();
    expect(redisRefusal("PUBLISH", 3)).toBeUndefined();
    expect(redisRefusal("FCALL", new RedisError("ERR Function not found"))).toBe("redis: ERR Function not found");
    expect(redisRefusal("FCALL", 1)).toMatch(/^redis: unexpected reply/);
  });
});

describe("the bench's capacity check", () => {
  const workload = {
    idleN: [1000],
    idleStreamsPerChannel: 1,
    fanoutSubscribers: 400000,
    burstMessages: 1,
    pacedRate: 0.25,
    pacedSeconds: 4,
    manyChannels: 400000,
    stormClients: 400000,
    publishSubscribers: 100,
    publishConnections: 50,
    publishCount: 1000,
    publishSeconds: 10,
    payloadBytes: 64,
    perProcess: 16000,
    connectConcurrency: 500,
    openMsPerStream: 10,
    rampChunk: 10000,
    settleMs: 1000,
  } satisfies WorkloadOptions;
  const input = (workers: number): CapacityInput => ({ workloads: ["fanout"], workload, workers, workerConnections: 19000, listenAddresses: 16 });

  it("refuses 400,000 streams on 6 nginx workers and names the worker count that holds them", () => {
    const nginx = capacityProblems(input(6)).filter((problem) => problem.includes("worker_connections"));
    expect(nginx).toHaveLength(1);
    expect(nginx[0]).toContain("use --workers 24");
  });

  it("accepts 400,000 streams on 24 workers at worker_connections 19,000", () => {
    expect(capacityProblems(input(24)).filter((problem) => problem.includes("worker_connections"))).toEqual([]);
  });
});

describe("the flame-graph script's folding", () => {
  it("turns perf script samples into outermost-first stacks with counts, offsets stripped", () => {
    const script = [
      "nginx 100 1.000: 2004008 cpu-clock:ppp: ",
      "\t    7f00 __GI___writev+0x17 (/usr/lib/x86_64-linux-gnu/libc.so.6)",
      "\t    5500 ngx_writev+0x2a (/usr/sbin/nginx)",
      "\t    5400 [unknown] (/usr/sbin/nginx)",
      "\t    5300 [unknown] (/usr/sbin/nginx)",
      "",
      "nginx 100 1.002: 2004008 cpu-clock:ppp: ",
      "\t    7f00 __GI___writev+0x20 (/usr/lib/x86_64-linux-gnu/libc.so.6)",
      "\t    5500 ngx_writev+0x2a (/usr/sbin/nginx)",
      "\t    5400 [unknown] (/usr/sbin/nginx)",
      "",
      "nginx 100 1.004: 2004008 cpu-clock:ppp: ",
      "\t    9a00 [unknown] (/tmp/perf-100.map)",
      "",
    ].join("\n");
    expect([...fold(script)]).toEqual([
      ["nginx;[nginx];ngx_writev;__GI___writev", 2],
      ["nginx;[JIT code: LuaJIT traces]", 1],
    ]);
  });
});
