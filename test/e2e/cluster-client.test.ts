// The cluster client core (src/store/cluster/client) inside real nginx against a real 3+3 Redis
// Cluster: a test-only location sets and gets keys through it; the keys spread over every slot
// range land on their owners; while one slot migrates, keys already moved are reached through ASK;
// after the slot changed owner, through MOVED and a refreshed map; after a primary is killed and
// its replica promoted, through a new discovery. The location says which redirects each request
// followed (X-Redirects), so the test knows the path it pinned was the one taken. Two more
// locations pin what the worker's one connection per node rests on: host/resp3 reading every
// RESP3 type a real redis-server sends, and hub/mux keeping callers apart (a caller that gave up,
// a connection killed under a waiting caller).

import "../../src/cli/multi";
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { Cluster, infoFields, parseClusterNodes, redisCall, startCluster, TopologyNode } from "../../src/cli/cluster";
import { findNginx, freePort, ROOT, stopChild } from "../../src/cli/gateway";
import { keySlot } from "../../src/protocol/slot";
import { eventually, fetchText, luaErrors } from "./harness";

/** The location's Lua: a per-worker cluster state, `set` through command(), `get` through step() (each a try, on the worker's one connection per node). */
function probeModule(seeds: string[]): string {
  return `
local client = require("pushgate.store.cluster.client")
local _M = {}
local SEEDS = { ${seeds.map((seed) => `{ host = "${seed.split(":")[0]}", port = ${seed.split(":")[1]} }`).join(", ")} }
local state

local function get(key)
  local attempt = client.begin(state, key, true)
  local followed = {}
  while true do
    local outcome, replies = client.step(state, attempt, { { "GET", key } })
    if outcome == nil then
      return nil, replies, followed
    end
    if outcome == "done" then
      local reply = replies[1]
      if type(reply) == "table" and reply[1] == false then
        return false, reply[2], followed
      end
      return reply, nil, followed
    end
    followed[#followed + 1] = attempt.target and attempt.target.kind or "retry"
  end
end

function _M.handle()
  if state == nil then
    local discovered, err = client.discover(SEEDS, 1000)
    if not discovered then
      ngx.status = 503
      ngx.say(err)
      return
    end
    state = discovered
  end
  local args = ngx.req.get_uri_args()
  local reply, err, followed
  if args.op == "set" then
    reply, err = client.command(state, args.key, true, "set", { args.key, args.value })
  elseif args.op == "get" then
    reply, err, followed = get(args.key)
  elseif args.op == "owner" then
    local slots = require("pushgate.store.cluster.slots")
    local owner = slots.ownerOf(state.map, require("pushgate.protocol.slot").keySlot(args.key))
    reply = owner and owner.name or ngx.null
  else
    ngx.status = 400
    ngx.say("op must be set, get or owner")
    return
  end
  ngx.header["X-Redirects"] = followed and table.concat(followed, ",") or ""
  if reply == nil then
    ngx.status = 503
    ngx.say(err)
  elseif reply == false then
    ngx.status = 500
    ngx.say("redis error: ", err)
  elseif reply == ngx.null then
    ngx.status = 404
  else
    ngx.print(reply)
  end
end

-- /resp3: the commands of the JSON body ({ cmd = words, frames = n }) sent on a raw connection to
-- host:port after HELLO 3, each followed by n frames read with host/resp3: what each decodes to
function _M.resp3()
  local resp3 = require("pushgate.host.resp3")
  local encode = require("pushgate.host.resp").encodeCommand
  local cjson = require("cjson")
  local args = ngx.req.get_uri_args()
  ngx.req.read_body()
  local steps = cjson.decode(ngx.req.get_body_data())
  local sock = ngx.socket.tcp()
  sock:settimeout(1000)
  assert(sock:connect(args.host, tonumber(args.port)))
  local out = {}
  for _, step in ipairs(steps) do
    assert(sock:send(encode(step.cmd)))
    for _ = 1, step.frames do
      local value, err, push = resp3.readFrame(sock, 1000, 1000)
      out[#out + 1] = { value = value == nil and "(nil)" or value, err = err or cjson.null, push = push == true }
    end
  end
  sock:close()
  ngx.say(cjson.encode(out))
end

-- /mux: hub/mux.call to host:port with the JSON body's commands, waiting at most wait ms
function _M.mux()
  local mux = require("pushgate.hub.mux")
  local cjson = require("cjson")
  local args = ngx.req.get_uri_args()
  ngx.req.read_body()
  local address = { host = args.host, port = tonumber(args.port), db = 0, url = "redis://" .. args.host .. ":" .. args.port }
  local replies, err, sent = mux.call(address, cjson.decode(ngx.req.get_body_data()), tonumber(args.wait))
  if replies == nil then
    ngx.status = 503
    ngx.say(cjson.encode({ err = err, sent = sent }))
    return
  end
  ngx.say(cjson.encode(replies))
end

return _M
`;
}

/** load_module lines for Debian's ndk and Lua modules; none for OpenResty or a built-in Lua module. */
function loadModules(nginx: string): string {
  if (basename(nginx).startsWith("openresty")) {
    return "";
  }
  const built = spawnSync(nginx, ["-V"], { encoding: "utf8" });
  if (`${built.stdout}${built.stderr}`.includes("lua-nginx-module") && !`${built.stdout}${built.stderr}`.includes("--add-dynamic-module")) {
    return "";
  }
  const modules = "/usr/lib/nginx/modules";
  return existsSync(`${modules}/ngx_http_lua_module.so`) ? `load_module ${modules}/ndk_http_module.so;\nload_module ${modules}/ngx_http_lua_module.so;` : "";
}

function nginxConf(nginx: string, dir: string, port: number): string {
  return `${loadModules(nginx)}
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
daemon off;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path ${dir}/tmp/body;
    proxy_temp_path ${dir}/tmp/proxy;
    fastcgi_temp_path ${dir}/tmp/fastcgi;
    uwsgi_temp_path ${dir}/tmp/uwsgi;
    scgi_temp_path ${dir}/tmp/scgi;
    lua_package_path "${dir}/lua/?.lua;${resolve(ROOT, "dist")}/?.lua;;";
    lua_socket_log_errors off;
    server {
        listen 127.0.0.1:${port};
        location = /kv { content_by_lua_block { require("cluster_probe").handle() } }
        location = /resp3 { content_by_lua_block { require("cluster_probe").resp3() } }
        location = /mux { content_by_lua_block { require("cluster_probe").mux() } }
    }
}
`;
}

interface Answer {
  status: number;
  body: string;
  redirects: string;
}

function nameOf(node: TopologyNode): string {
  return `${node.host}:${node.port}`;
}

describe("the cluster client core in nginx against a real Redis Cluster", () => {
  let cluster: Cluster;
  let dir: string;
  let nginx: ChildProcess | undefined;
  let base: string;
  /** 190 keys spread over the slots, and 10 sharing the slot of the tag {moving}. */
  const keys = [...Array.from({ length: 190 }, (_, i) => `k:${i}`), ...Array.from({ length: 10 }, (_, i) => `{moving}:${i}`)];
  const valueOf = (key: string): string => `value of ${key}`;

  const call = async (op: string, key: string, value?: string): Promise<Answer> => {
    const query = `op=${op}&key=${encodeURIComponent(key)}${value === undefined ? "" : `&value=${encodeURIComponent(value)}`}`;
    const answer = await fetchText(`${base}/kv?${query}`);
    return { status: answer.status, body: answer.body, redirects: `${answer.headers["x-redirects"] ?? ""}` };
  };

  /** The primary that owns `slot`, asked of `node` (CLUSTER NODES). */
  const ownerOf = async (slot: number, node: TopologyNode = cluster.primaries()[0]): Promise<{ id: string; address: string }> => {
    const entries = parseClusterNodes(`${(await redisCall(node.host, node.port, ["CLUSTER", "NODES"])) as string}`);
    const owner = entries.find((entry) => entry.flags.includes("master") && entry.slots.some((range) => inRange(slot, range)))!;
    return { id: owner.id, address: owner.address };
  };

  beforeAll(async () => {
    cluster = await startCluster({ primaries: 3, replicasPerPrimary: 1, nodeTimeoutMs: 1000 });
    dir = mkdtempSync(join(tmpdir(), "pushgate-cluster-client-"));
    for (const sub of ["lua", "tmp"]) {
      mkdirSync(join(dir, sub));
    }
    writeFileSync(join(dir, "lua/cluster_probe.lua"), probeModule(cluster.nodes.map(nameOf)), { mode: 0o644 });
    // workers of an nginx started as root run as another user: they must read the module
    chmodSync(dir, 0o755);
    chmodSync(join(dir, "lua"), 0o755);
    const binary = findNginx();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    writeFileSync(join(dir, "nginx.conf"), nginxConf(binary, dir, port));
    const args = ["-p", dir, "-e", join(dir, "error.log"), "-c", join(dir, "nginx.conf")];
    const tested = spawnSync(binary, ["-t", "-q", ...args], { encoding: "utf8" });
    if (tested.status !== 0) {
      throw new Error(`nginx rejected the test config: ${tested.stderr}`);
    }
    nginx = spawn(binary, args, { stdio: "ignore" });
    const up = await eventually(async () => (await fetchText(`${base}/kv?op=none&key=x`).catch(() => ({ status: 0 }))).status === 400, 10000, 50);
    if (!up) {
      throw new Error(`nginx did not answer: ${readFileSync(join(dir, "error.log"), "utf8")}`);
    }
  }, 40000);

  afterAll(async () => {
    if (nginx !== undefined) {
      await stopChild(nginx, "SIGQUIT", 5000);
    }
    await cluster?.stop();
    if (dir !== undefined) {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  afterEach(() => {
    expect(luaErrors(readFileSync(join(dir, "error.log"), "utf8"))).toEqual([]);
  });

  test("sets and gets 200 keys spread over every primary, each stored on the owner of its slot", async () => {
    const owners = new Map<string, number>();
    for (const key of keys) {
      expect(await call("set", key, valueOf(key))).toMatchObject({ status: 200, body: "OK" });
    }
    for (const key of keys) {
      expect([key, await call("get", key)]).toEqual([key, { status: 200, body: valueOf(key), redirects: "" }]);
      const owner = (await call("owner", key)).body;
      owners.set(owner, (owners.get(owner) ?? 0) + 1);
      // the key is on that node, asked directly
      const [host, port] = owner.split(":");
      expect(await redisCall(host, Number(port), ["GET", key])).toBe(valueOf(key));
    }
    expect([...owners.keys()].sort()).toEqual(cluster.primaries().map(nameOf).sort());
    expect(await call("get", "never set")).toMatchObject({ status: 404 });
  });

  test("follows ASK while a slot migrates and MOVED once it has a new owner", async () => {
    const slot = keySlot("moving");
    const moving = keys.filter((key) => key.startsWith("{moving}"));
    const source = await ownerOf(slot);
    const target =
      (await ownerOf((slot + 5461) % 16384)).address === source.address ? await ownerOf((slot + 10922) % 16384) : await ownerOf((slot + 5461) % 16384);
    const [sourceHost, sourcePort] = source.address.split(":");
    const [targetHost, targetPort] = target.address.split(":");
    expect(target.address).not.toBe(source.address);
    expect(await redisCall(targetHost, Number(targetPort), ["CLUSTER", "SETSLOT", slot, "IMPORTING", source.id])).toBe("OK");
    expect(await redisCall(sourceHost, Number(sourcePort), ["CLUSTER", "SETSLOT", slot, "MIGRATING", target.id])).toBe("OK");
    const movedFirst = moving.slice(0, 5);
    expect(await redisCall(sourceHost, Number(sourcePort), ["MIGRATE", targetHost, targetPort, "", 0, 5000, "KEYS", ...movedFirst])).toBe("OK");

    // during the migration: keys still on the source answer there, moved ones through ASK
    for (const key of moving) {
      const expected = movedFirst.includes(key) ? "ask" : "";
      expect([key, await call("get", key)]).toEqual([key, { status: 200, body: valueOf(key), redirects: expected }]);
    }
    // a key new to the slot is written where the slot is going
    expect(await call("set", "{moving}:new", "fresh")).toMatchObject({ status: 200, body: "OK" });
    expect(await redisCall(targetHost, Number(targetPort), ["CLUSTER", "GETKEYSINSLOT", slot, 100])).toContain("{moving}:new");
    expect(await call("get", "{moving}:new")).toEqual({ status: 200, body: "fresh", redirects: "ask" });

    expect(await redisCall(sourceHost, Number(sourcePort), ["MIGRATE", targetHost, targetPort, "", 0, 5000, "KEYS", ...moving.slice(5)])).toBe("OK");
    const primaries = cluster.primaries();
    const ordered = [target.address, source.address, ...primaries.map(nameOf).filter((name) => name !== target.address && name !== source.address)];
    for (const name of ordered) {
      const [host, port] = name.split(":");
      expect(await redisCall(host, Number(port), ["CLUSTER", "SETSLOT", slot, "NODE", target.id])).toBe("OK");
    }

    // after: the source says MOVED once, the map is refreshed, later reads go straight to the new owner
    expect(await call("get", moving[0])).toEqual({ status: 200, body: valueOf(moving[0]), redirects: "moved" });
    expect((await call("owner", moving[0])).body).toBe(target.address);
    for (const key of [...moving, "{moving}:new"]) {
      expect([key, (await call("get", key)).redirects]).toEqual([key, ""]);
    }
    for (const key of keys) {
      expect([key, (await call("get", key)).body]).toEqual([key, valueOf(key)]);
    }
  });

  /** POSTs `body` as JSON to a probe location. */
  const post = async (path: string, body: unknown): Promise<{ status: number; body: unknown }> => {
    const answer = await fetchText(`${base}${path}`, { method: "POST", body: JSON.stringify(body), headers: { "Content-Type": "application/json" } });
    return { status: answer.status, body: JSON.parse(answer.body) as unknown };
  };

  test("host/resp3 reads every RESP3 type redis-server 7 sends, in the shapes resty.redis gives for RESP2", async () => {
    const one = (cmd: Array<string | number>, frames = 1): { cmd: string[]; frames: number } => ({ cmd: cmd.map(String), frames });
    // every key in the slot of {resp3}, so the node that owns it runs them
    const owner = (await call("owner", "{resp3}")).body;
    const [host, port] = owner.split(":");
    const steps = [
      one(["HELLO", 3]),
      one(["PING"]),
      one(["SET", "{resp3}s", "v"]),
      one(["GET", "{resp3}s"]),
      one(["GET", "{resp3}missing"]),
      one(["DEL", "{resp3}n"]),
      one(["INCR", "{resp3}n"]),
      one(["DEL", "{resp3}z", "{resp3}set", "{resp3}h"]),
      one(["ZADD", "{resp3}z", "1.5", "m"]),
      one(["ZSCORE", "{resp3}z", "m"]),
      one(["SADD", "{resp3}set", "a"]),
      one(["SMEMBERS", "{resp3}set"]),
      one(["HSET", "{resp3}h", "f", "v"]),
      one(["HGETALL", "{resp3}h"]),
      one(["EVAL", "redis.setresp(3); return true", 0]),
      one(["EVAL", "redis.setresp(3); return false", 0]),
      one(["EVAL", "return false", 0]),
      one(["EVAL", "redis.setresp(3); return {big_number='123456789012345678901234567890'}", 0]),
      one(["EVAL", "return {verbatim_string={format='txt', string='hello'}}", 0]),
      one(["EVAL", "return {1, {2, redis.error_reply('NESTED no')}}", 0]),
      one(["EVAL", "return redis.error_reply('MINE refused')", 0]),
      // subscribed in RESP3, the connection still takes commands: a push, then a reply and a push
      one(["SSUBSCRIBE", "{resp3}ch"]),
      one(["SPUBLISH", "{resp3}ch", "hi"], 2),
      one(["PING"]),
    ];
    const answer = await post(`/resp3?host=${host}&port=${port}`, steps);
    expect(answer.status).toBe(200);
    const frames = answer.body as Array<{ value: unknown; err: string | null; push: boolean }>;
    const hello = frames[0].value as unknown[];
    expect(hello.slice(0, 6)).toEqual(["server", "redis", "version", expect.stringMatching(/^[0-9]/), "proto", 3]);
    const reply = (value: unknown, err: string | null = null, push = false): unknown => ({ value, err, push });
    expect(frames.slice(1)).toEqual([
      reply("PONG"),
      reply("OK"),
      reply("v"),
      reply(null), // _ : ngx.null
      reply(expect.any(Number)),
      reply(1),
      reply(expect.any(Number)),
      reply(1),
      reply("1.5"), // , double: its text, as RESP2's bulk string
      reply(1),
      reply(["a"]), // ~ set
      reply(1),
      reply(["f", "v"]), // % map: flat, as RESP2
      reply(1), // #t
      reply(0), // #f
      reply(null), // a Lua false in RESP2 script mode: _
      reply("123456789012345678901234567890"), // ( big number
      reply("hello"), // = verbatim, without its format
      reply([1, [2, [false, "NESTED no"]]]), // an error inside an array, as resty.redis gives it
      reply(false, "MINE refused"),
      reply(["ssubscribe", "{resp3}ch", 1], null, true),
      reply(["smessage", "{resp3}ch", "hi"], null, true),
      reply(1),
      reply("PONG"),
    ]);
  });

  test("hub/mux: a caller that gave up does not take the next caller's reply; a lost connection fails its waiters, and a new one serves the next", async () => {
    const owner = (await call("owner", "{mux}")).body;
    const [host, port] = owner.split(":");
    const at = `host=${host}&port=${port}`;
    // WAIT for more replicas than there are blocks the connection 400 ms: the caller gives up after 100
    const gaveUp = await post(`/mux?${at}&wait=100`, [["WAIT", "5", "400"]]);
    expect(gaveUp).toEqual({ status: 503, body: { err: expect.stringMatching(/^timeout/), sent: true } });
    // the next caller gets its own replies, not the WAIT's late one
    expect(await post(`/mux?${at}&wait=2000`, [["ECHO", "mine"], ["PING"], ["GET", "{mux}missing"]])).toEqual({ status: 200, body: ["mine", "PONG", null] });
    expect(
      await post(`/mux?${at}&wait=2000`, [
        ["EVAL", "return redis.error_reply('NOPE x')", "0"],
        ["ECHO", "after"],
      ]),
    ).toEqual({
      status: 200,
      body: [[false, "NOPE x"], "after"],
    });
    // a blocked connection killed: its waiter hears it was lost after being sent
    const blocked = post(`/mux?${at}&wait=5000`, [["WAIT", "5", "3000"]]);
    const waiting = await eventually(async () => `${(await redisCall(host, Number(port), ["CLIENT", "LIST"])) as string}`.includes("cmd=wait"), 2000, 20);
    expect(waiting).toBe(true);
    const id = `${(await redisCall(host, Number(port), ["CLIENT", "LIST"])) as string}`
      .split("\n")
      .find((line) => line.includes("cmd=wait"))!
      .match(/^id=(\d+)/)![1];
    expect(await redisCall(host, Number(port), ["CLIENT", "KILL", "ID", id])).toBe(1);
    expect(await blocked).toEqual({ status: 503, body: { err: expect.stringMatching(/was lost/), sent: true } });
    expect(await post(`/mux?${at}&wait=2000`, [["ECHO", "again"]])).toEqual({ status: 200, body: ["again"] });
  });

  test("reads the keys of a killed primary from its promoted replica, after a new discovery", async () => {
    const victim = cluster.primaries()[0];
    const victimKeys: string[] = [];
    for (const key of keys) {
      if ((await call("owner", key)).body === nameOf(victim)) {
        victimKeys.push(key);
      }
    }
    expect(victimKeys.length).toBeGreaterThan(20);
    // the replica has every write before the primary goes
    const replica = cluster.replicas().find((node) => node.primaryId === victim.id)!;
    const offset = async (node: TopologyNode, field: string): Promise<string> =>
      infoFields(`${(await redisCall(node.host, node.port, ["INFO", "replication"])) as string}`)[field];
    expect(await eventually(async () => (await offset(replica, "slave_repl_offset")) === (await offset(victim, "master_repl_offset")), 5000, 50)).toBe(true);

    await cluster.kill(victim);
    const promoted = await cluster.waitForPromotion(victim, 15000);
    for (const key of victimKeys) {
      expect([key, await call("get", key)]).toMatchObject([key, { status: 200, body: valueOf(key) }]);
    }
    expect((await call("owner", victimKeys[0])).body).toBe(nameOf(promoted));
    // writes go to the new primary too
    expect(await call("set", victimKeys[0], "after failover")).toMatchObject({ status: 200, body: "OK" });
    expect(await redisCall(promoted.host, promoted.port, ["GET", victimKeys[0]])).toBe("after failover");
  }, 30000);
});

function inRange(slot: number, range: string): boolean {
  if (range.startsWith("[")) {
    return false; // a migration in progress: [slot->-id] or [slot-<-id]
  }
  const [from, to] = range.split("-").map(Number);
  return slot >= from && slot <= (to ?? from);
}
