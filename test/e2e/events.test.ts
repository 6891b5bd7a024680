// Offline and unread events for backends (README "Offline and unread events"), on two gateways
// sharing one Redis: an offline event exactly once after the grace when a user's last connection
// ends (on either gateway; none when the user is back within the grace; once when the gateway
// holding the connection is killed with SIGKILL), an unread event once for an inbox message left
// unread (published with POST /pub or the API's publish) and none for one acknowledged in time, and README's redis-cli XREADGROUP run as printed.
// Refresh 1 s, an offline grace of 2 s (a loaded machine may take 1 s to reconnect) and unread
// after 1 s keep it fast.

import type { Gateway } from "../../src/cli/gateway";
import type { GatewayStatus } from "../../src/protocol/status";
import { blocksOf, runStep, shellSteps } from "./examples";
import { eventually, fetchText, OwnGateway, startGatewayOn, luaErrors, sleep, Stack, startStack, Stream } from "./harness";

const SETTINGS = { presenceRefreshSeconds: "1", offlineGraceSeconds: "2", unreadNotifySeconds: "1" };

type Event = Record<string, string> & { streamId: string };

function startSecond(stack: Stack): Promise<OwnGateway> {
  return startGatewayOn(stack.redis.url, SETTINGS);
}

describe("offline and unread events in pushgate:events", () => {
  let stack: Stack;
  let second: Gateway;
  let secondBase: string;
  let own: OwnGateway | undefined;

  /** Every event in the stream, oldest first, with its fields. */
  async function events(): Promise<Event[]> {
    const entries = await stack.client.xRange("pushgate:events", "-", "+");
    return entries.map((entry) => ({ streamId: entry.id, ...entry.message }));
  }

  async function eventsOf(type: string, user: string): Promise<Event[]> {
    return (await events()).filter((e) => e.type === type && e.user === user);
  }

  async function online(base: string, user: string): Promise<boolean> {
    const answer = await fetchText(`${base}/api`, {
      method: "POST",
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "online", params: { users: [user] } }),
    });
    return (JSON.parse(answer.body) as { result: Record<string, { online: boolean }> }).result[user].online;
  }

  beforeAll(async () => {
    stack = await startStack({ settings: SETTINGS });
    own = await startSecond(stack);
    ({ gateway: second, base: secondBase } = own);
  });

  afterAll(async () => {
    await own?.stop();
    expect(luaErrors(stack.errorLog())).toEqual([]);
    await stack.stop();
  });

  test("a user whose last connection ends gets one offline event after the grace, and none when back within it", async () => {
    const ann = await new Stream(`${stack.base}/sub?key=room:1&user=ann`).open();
    const ben = await new Stream(`${stack.base}/sub?key=room:1&user=ben`).open();
    expect(await eventually(async () => (await online(secondBase, "ann")) && online(secondBase, "ben"))).toBe(true);
    await sleep(1500); // a refresh or two while connected: no event
    expect(await eventsOf("offline", "ann")).toEqual([]);

    const closedAt = Date.now();
    ann.close();
    // ben leaves gateway A and is back on gateway B within the grace
    ben.close();
    await sleep(300);
    const benAgain = await new Stream(`${secondBase}/sub?key=room:2&user=ben`).open();

    expect(await eventually(async () => (await eventsOf("offline", "ann")).length > 0, 8000, 100)).toBe(true);
    const [event] = await eventsOf("offline", "ann");
    expect(Date.now() - closedAt).toBeGreaterThanOrEqual(1900); // not before the grace
    expect(Number(event.at)).toBeGreaterThanOrEqual(Number(event.lastSeen) + 1900);
    expect(Number(event.lastSeen)).toBeGreaterThan(closedAt - 2000);
    await sleep(2500); // both gateways sweep every second: still exactly one
    expect((await eventsOf("offline", "ann")).length).toBe(1);
    expect(await eventsOf("offline", "ben")).toEqual([]);

    // ben's last connection ends for good: now his event, once
    benAgain.close();
    expect(await eventually(async () => (await eventsOf("offline", "ben")).length > 0, 8000, 100)).toBe(true);
    await sleep(2000);
    expect((await eventsOf("offline", "ben")).length).toBe(1);
  }, 30000);

  test("an inbox message left unread gets one unread event; one acknowledged in time gets none", async () => {
    const publish = async (channel: string, data: string): Promise<string> => {
      const answer = await fetchText(`${stack.base}/pub?channel=${channel}`, { method: "POST", body: data });
      expect(answer.status).toBe(200);
      return (JSON.parse(answer.body) as { id: string }).id;
    };
    const unreadId = await publish("user:dee", "you have mail");
    const readId = await publish("user:eve", "read me");
    const acked = await fetchText(`${secondBase}/ack?channel=user:eve&id=${readId}&user=eve`, { method: "POST" });
    expect(acked.status).toBe(200);
    await publish("room:1", "not an inbox");
    // the API's publish takes the same path
    const api = await fetchText(`${secondBase}/api`, {
      method: "POST",
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "publish", params: { channel: "user:fay", data: "from the api" } }),
    });
    const apiId = (JSON.parse(api.body) as { result: { id: string } }).result.id;
    // and publish_many (one pipeline): gus's message stays unread, hal reads his
    const many = await fetchText(`${stack.base}/api`, {
      method: "POST",
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 2,
        method: "publish_many",
        params: {
          items: [
            { channel: "user:gus", data: "one" },
            { channel: "user:hal", data: "two" },
          ],
        },
      }),
    });
    const [gusId, halId] = (JSON.parse(many.body) as { result: Array<{ id: string }> }).result.map((r) => r.id);
    expect((await fetchText(`${secondBase}/ack?channel=user:hal&id=${halId}&user=hal`, { method: "POST" })).status).toBe(200);

    expect(await eventually(async () => (await eventsOf("unread", "dee")).length > 0, 6000, 100)).toBe(true);
    const [event] = await eventsOf("unread", "dee");
    expect(event).toMatchObject({ type: "unread", user: "dee", channel: "user:dee", id: unreadId });
    expect(Number(event.at)).toBeGreaterThanOrEqual(Number(unreadId.split("-")[0]) + 1000);
    expect(await eventually(async () => (await eventsOf("unread", "fay")).length > 0, 6000, 100)).toBe(true);
    expect((await eventsOf("unread", "fay"))[0]).toMatchObject({ channel: "user:fay", id: apiId });
    expect(await eventually(async () => (await eventsOf("unread", "gus")).length > 0, 6000, 100)).toBe(true);
    expect((await eventsOf("unread", "gus"))[0]).toMatchObject({ channel: "user:gus", id: gusId });
    await sleep(2500);
    expect((await eventsOf("unread", "dee")).length).toBe(1);
    expect((await eventsOf("unread", "fay")).length).toBe(1);
    expect((await eventsOf("unread", "gus")).length).toBe(1);
    expect((await events()).filter((e) => e.type === "unread" && !["dee", "fay", "gus"].includes(e.user))).toEqual([]);
  }, 20000);

  test("README's XREADGROUP reads an offline event as printed", async () => {
    const block = blocksOf("README.md").find((b) => b.notRun?.includes("events.test.ts") === true);
    expect(block).toBeDefined();
    const steps = shellSteps(block!.body);
    expect(steps.map((s) => s.code.split(" ").slice(0, 2).join(" "))).toEqual(["redis-cli XGROUP", "redis-cli XREADGROUP", "redis-cli XACK"]);
    const target = { base: stack.base, redisPort: Number(new URL(stack.redis.url).port), redisUrl: stack.redis.url };
    await runStep(steps[0], target, {});
    const user = await new Stream(`${stack.base}/sub?key=room:3&user=42`).open();
    expect(await eventually(() => online(stack.base, "42"))).toBe(true);
    user.close();
    const printed = await runStep(steps[1], target, {});
    const id = /"(\d+-\d+)"/.exec(printed)?.[1];
    expect(id).toBeDefined();
    await runStep({ code: steps[2].code.replace(/\d+-\d+/, id!), expected: steps[2].expected }, target, {});
  }, 20000);

  test("a gateway killed with SIGKILL: its user's offline event comes once, from the gateway still running", async () => {
    const cy = await new Stream(`${secondBase}/sub?key=room:9&user=cy`).open();
    expect(await eventually(() => online(stack.base, "cy"))).toBe(true);
    await sleep(1200);
    const status = JSON.parse((await fetchText(`${secondBase}/status`)).body) as GatewayStatus;
    const killedAt = Date.now();
    process.kill(second.process.pid ?? 0, "SIGKILL");
    for (const worker of status.workers) {
      process.kill(worker.pid, "SIGKILL");
    }
    // entries live 2.5 s after the last refresh, then 2 s of grace
    expect(await eventually(async () => (await eventsOf("offline", "cy")).length > 0, 12000, 100)).toBe(true);
    expect(Date.now() - killedAt).toBeGreaterThanOrEqual(2400);
    await sleep(2500);
    expect((await eventsOf("offline", "cy")).length).toBe(1);
    cy.close();
  }, 25000);
});
