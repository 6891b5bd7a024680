// The server API, POST /api (JSON-RPC 2.0), through the Node SDK and raw HTTP: every method, the
// batch and notification rules, the stable error codes, and who may call it.

import { ApiError, PushgateApi } from "../../sdk/api";
import { FORBIDDEN, INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND, PARSE_ERROR } from "../../src/protocol/jsonrpc";
import { eventually, fetchText, MODES, Stream, useStack, withStack } from "./harness";

const PUBLISHER_KEY = "api-test-publisher-key-0123456789abcdef";
const ADMIN_KEY = "api-test-admin-key-0123456789abcdef-xyz";

async function raw(base: string, body: string, key = ""): Promise<{ status: number; body: string }> {
  const headers: Record<string, string> = key !== "" ? { Authorization: `Bearer ${key}` } : {};
  const answer = await fetchText(`${base}/api`, { method: "POST", body, headers });
  return { status: answer.status, body: answer.body };
}

async function codeOf(promise: Promise<unknown>): Promise<[number, string]> {
  try {
    await promise;
  } catch (e) {
    if (e instanceof ApiError) {
      return [e.code, e.message];
    }
    throw e;
  }
  return [0, "no error"];
}

describe.each(MODES)("%s mode", (mode) => {
  const stack = useStack({ settings: { mode } });

  test("publish reaches a subscriber; history pages through it forwards and backwards", async () => {
    const api = new PushgateApi(stack.base);
    const stream = await new Stream(`${stack.base}/sub?key=api:h`).open();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const published = await api.publish({ channel: "api:h", data: `m${i}`, event: i === 0 ? "first" : undefined });
      expect(published).toMatchObject({ channel: "api:h", subscribers: expect.any(Number) as number });
      ids.push(published.id);
    }
    expect((await stream.waitForMessages(5)).map((m) => (m as { data: string }).data)).toEqual(["m0", "m1", "m2", "m3", "m4"]);
    stream.close();
    const all = await api.history({ channel: "api:h" });
    expect(all.messages).toEqual([{ id: ids[0], event: "first", data: "m0" }, ...[1, 2, 3, 4].map((i) => ({ id: ids[i], data: `m${i}` }))]);
    expect((await api.history({ channel: "api:h", since: ids[1], limit: 2 })).messages.map((m) => m.data)).toEqual(["m2", "m3"]);
    expect((await api.history({ channel: "api:h", before: ids[3], reverse: true })).messages.map((m) => m.data)).toEqual(["m2", "m1", "m0"]);
    expect((await api.history({ channel: "api:h", reverse: true, limit: 1 })).messages.map((m) => m.data)).toEqual(["m4"]);
    const again = await api.publish({ channel: "api:h", data: "once", idempotencyKey: "k-1" });
    expect(await api.publish({ channel: "api:h", data: "once", idempotencyKey: "k-1" })).toEqual({ ...again, subscribers: 0, duplicate: true });
  });

  test("broadcast sends one payload to many channels; publish_many a payload each, thousands in one call", async () => {
    const api = new PushgateApi(stack.base);
    const streams = await Promise.all(["api:b1", "api:b2", "api:b3"].map((c) => new Stream(`${stack.base}/sub?key=${c}`).open()));
    const results = await api.broadcast({ channels: ["api:b1", "api:b2", "api:b3"], data: "to all", event: "news" });
    expect(results.map((r) => r.channel)).toEqual(["api:b1", "api:b2", "api:b3"]);
    expect(results.every((r) => typeof r.id === "string" && r.error === undefined)).toBe(true);
    for (const s of streams) {
      expect((await s.waitForMessages(1))[0]).toMatchObject({ data: "to all", event: "news" });
      s.close();
    }
    const items = Array.from({ length: 3000 }, (_v, i) => ({ channel: `api:inbox:${i % 300}`, data: `hello ${i}` }));
    const many = await api.publishMany({ items });
    expect(many).toHaveLength(3000);
    expect(many.filter((r) => r.error !== undefined)).toEqual([]);
    expect((await api.history({ channel: "api:inbox:7" })).messages.map((m) => m.data)).toEqual(Array.from({ length: 10 }, (_v, i) => `hello ${7 + i * 300}`));
  }, 20000);

  test("unread counts what a user has not acknowledged; info describes the gateway", async () => {
    const api = new PushgateApi(stack.base);
    const first = await api.publish({ channel: "api:u", data: "a" });
    await api.publish({ channel: "api:u", data: "b" });
    expect(await api.unread({ user: "ann", channels: ["api:u", "api:none"] })).toEqual({ user: "ann", unread: { "api:u": 2, "api:none": 0 } });
    expect((await fetchText(`${stack.base}/ack?channel=api:u&id=${first.id}&user=ann`, { method: "POST" })).status).toBe(200);
    expect((await api.unread({ user: "ann", channels: ["api:u"] })).unread).toEqual({ "api:u": 1 });
    const info = await api.info();
    expect(info.mode).toBe(mode);
    expect(await eventually(async () => (await api.info()).workers.length === 2)).toBe(true);
  });

  test("a batch answers each call in order; notifications get no answer", async () => {
    const api = new PushgateApi(stack.base);
    const answers = await api.batch([
      { method: "presence_stats", params: { channel: "api:nobody" } },
      { method: "nope" },
      { method: "publish", params: { channel: "bad name", data: "x" } },
    ]);
    expect(answers[0]).toEqual({ result: { channel: "api:nobody", connections: 0, users: 0 } });
    expect(answers[1]).toEqual({ error: { code: METHOD_NOT_FOUND, message: "method not found: nope" } });
    expect(answers[2].error?.code).toBe(INVALID_PARAMS);
    expect(answers[2].error?.message).toContain("channel must be a channel name");
    // a notification runs but is not answered: 204 when nothing is left to answer
    const note = await raw(stack.base, JSON.stringify({ jsonrpc: "2.0", method: "publish", params: { channel: "api:n", data: "quiet" } }));
    expect(note).toEqual({ status: 204, body: "" });
    expect((await api.history({ channel: "api:n" })).messages.map((m) => m.data)).toEqual(["quiet"]);
    const mixed = JSON.parse(
      (
        await raw(
          stack.base,
          JSON.stringify([
            { jsonrpc: "2.0", method: "info" },
            { jsonrpc: "2.0", id: "x", method: "presence_stats", params: { channel: "a" } },
          ]),
        )
      ).body,
    ) as Array<{ id: string }>;
    expect(mixed.map((a) => a.id)).toEqual(["x"]);
  });

  test("errors carry stable codes and name the param", async () => {
    const api = new PushgateApi(stack.base);
    const parse = JSON.parse((await raw(stack.base, "{not json")).body) as unknown;
    expect(parse).toEqual({ jsonrpc: "2.0", id: null, error: { code: PARSE_ERROR, message: "parse error: the body is not valid JSON" } });
    for (const body of ["[]", "42", '{"jsonrpc":"1.0","id":1,"method":"info"}', '{"jsonrpc":"2.0","id":{},"method":"info"}']) {
      expect((JSON.parse((await raw(stack.base, body)).body) as { error: { code: number } }).error.code).toBe(INVALID_REQUEST);
    }
    const positional = JSON.parse((await raw(stack.base, '{"jsonrpc":"2.0","id":7,"method":"publish","params":["a","b"]}')).body) as unknown;
    expect(positional).toEqual({ jsonrpc: "2.0", id: 7, error: { code: INVALID_PARAMS, message: "invalid params: params must be an object (named params)" } });
    expect(await codeOf(api.call("publish", { channel: "a" }))).toEqual([INVALID_PARAMS, "publish failed: invalid params: data is required"]);
    expect(await codeOf(api.call("history", { channel: "a", limit: 0 }))).toEqual([
      INVALID_PARAMS,
      "history failed: invalid params: limit must be an integer from 1 to 1000",
    ]);
    expect(await codeOf(api.call("online", { users: [] }))).toEqual([
      INVALID_PARAMS,
      "online failed: invalid params: users must be a non-empty array of at most 1000 strings",
    ]);
    expect(
      (
        await codeOf(
          api.call("publish_many", {
            items: [
              { channel: "ok", data: "x" },
              { channel: "bad name", data: "y" },
            ],
          }),
        )
      )[1],
    ).toContain("items[1].channel");
  });
});

describe("with credentials", () => {
  test("the publisher key or the admin key, nothing else", async () => {
    await withStack({ settings: { publisherKey: PUBLISHER_KEY, adminKey: ADMIN_KEY } }, async (stack) => {
      const call = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "presence_stats", params: { channel: "x" } });
      expect((await raw(stack.base, call)).status).toBe(401);
      expect((await raw(stack.base, call, "wrong-key-wrong-key-wrong-key-wrong-key")).status).toBe(401);
      expect((await raw(stack.base, call, PUBLISHER_KEY)).status).toBe(200);
      expect((await raw(stack.base, call, ADMIN_KEY)).status).toBe(200);
      const admin = new PushgateApi(stack.base, { key: ADMIN_KEY });
      expect((await admin.publish({ channel: "secured", data: "by admin" })).id).toMatch(/^\d+-\d+$/);
      expect(await codeOf(new PushgateApi(stack.base).info())).toEqual([401, expect.stringContaining("publisher key") as string]);
    });
  });
});

test("codes are distinct", () => {
  expect(new Set([FORBIDDEN, INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND, PARSE_ERROR]).size).toBe(5);
});
