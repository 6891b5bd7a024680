// Token refresh on a live WebSocket against a real gateway: a `refresh` frame hands the connection
// a new token, whose expiry replaces the old one (the stream outlives the first token) and whose
// grant replaces the old one (channels no longer granted are unsubscribed with a notice).

import { EventSource } from "eventsource";
import WebSocket from "ws";
import { Notice, subscribe } from "../../client/src/client";
import { mintToken } from "../../sdk";
import { publishHttp } from "../../sdk/http";
import { eventually, sleep, useStack } from "./harness";
import { WsClient } from "./clients";

const SECRET = "s3cret-s3cret-s3cret-s3cret-s3cret!";
const PUBLISHER_KEY = "publisher-key-publisher-key-publisher-key";

describe.each(["shared", "direct"])("%s mode: refresh on a live WebSocket", (mode) => {
  const stack = useStack({ settings: { mode, jwtSecret: SECRET, publisherKey: PUBLISHER_KEY, jwtLeewaySeconds: "0" } });
  const wsUrl = (query: string, token: string): string => `${stack.base.replace("http", "ws")}/ws?${query}&token=${token}`;

  test("without refresh the stream ends at the token's expiry; with it, it stays open past it and keeps receiving", async () => {
    const short = mintToken({ sub: "alice", channels: ["room:*"], ttl: 2 }, SECRET);
    const ending = await new WsClient(wsUrl("key=room:a", short)).open();
    const refreshed = await new WsClient(wsUrl("key=room:a", short)).open();
    const longer = mintToken({ sub: "alice", channels: ["room:*"], ttl: 600 }, SECRET);
    const answer = await refreshed.request({ type: "refresh", token: longer });
    expect(answer.type).toBe("refreshed");
    expect(answer.expires).toBe(JSON.parse(Buffer.from(longer.split(".")[1], "base64url").toString()).exp);

    await ending.closed;
    expect(ending.closeReason).toBe("token expired");
    await sleep(1500); // past the first token's expiry for both
    expect(refreshed.closeCode).toBeUndefined();
    await publishHttp(stack.base, "room:a", "after the first expiry", { token: PUBLISHER_KEY });
    expect(await refreshed.next((f) => f.type === "message")).toMatchObject({ channel: "room:a", data: "after the first expiry" });
    refreshed.close();
  });

  test("a refresh that drops a channel: a revoked notice, and no more messages of it", async () => {
    const both = mintToken({ sub: "bob", channels: ["room:*"], ttl: 600 }, SECRET);
    const ws = await new WsClient(wsUrl("key=room:1,room:2", both)).open();
    await publishHttp(stack.base, "room:2", "before", { token: PUBLISHER_KEY });
    await ws.next((f) => f.type === "message" && f.data === "before");

    const narrower = mintToken({ sub: "bob", channels: ["room:1"], ttl: 600 }, SECRET);
    const from = ws.frames.length;
    const answer = await ws.request({ type: "refresh", token: narrower });
    expect(answer.type).toBe("refreshed");
    expect(ws.frames.slice(from).filter((f) => f.type === "notice")).toEqual([
      { type: "notice", notice: "revoked", channel: "room:2", message: "channel room:2 is no longer granted: unsubscribed" },
    ]);
    await publishHttp(stack.base, "room:2", "after", { token: PUBLISHER_KEY });
    await publishHttp(stack.base, "room:1", "still granted", { token: PUBLISHER_KEY });
    await ws.next((f) => f.type === "message" && f.data === "still granted");
    await sleep(200);
    expect(ws.frames.filter((f) => f.type === "message" && f.channel === "room:2").map((f) => f.data)).toEqual(["before"]);
    // the new grant holds for subscribe frames too
    expect(await ws.request({ type: "subscribe", channels: ["room:2"] })).toMatchObject({ type: "error", error: "channel room:2 is not granted by the token" });
    ws.close();
  });

  test("a bad refresh is refused with an error frame and changes nothing", async () => {
    const token = mintToken({ sub: "carol", channels: ["room:*"], ttl: 600 }, SECRET);
    const ws = await new WsClient(wsUrl("key=room:c", token)).open();
    expect(await ws.request({ type: "refresh", token: "not-a-token" })).toMatchObject({
      type: "error",
      error: "token must have three parts separated by dots",
    });
    const expired = mintToken({ sub: "carol", channels: ["room:*"], ttl: 1, now: Math.floor(Date.now() / 1000) - 100 }, SECRET);
    expect(await ws.request({ type: "refresh", token: expired })).toMatchObject({ type: "error", error: "token expired" });
    const other = mintToken({ sub: "mallory", channels: ["*"], ttl: 600 }, SECRET);
    expect(await ws.request({ type: "refresh", token: other })).toMatchObject({ type: "error", error: "the new token is for another user" });
    expect(await ws.request({ type: "refresh" })).toMatchObject({ type: "error" });
    await publishHttp(stack.base, "room:c", "still here", { token: PUBLISHER_KEY });
    expect(await ws.next((f) => f.type === "message")).toMatchObject({ data: "still here" });
    ws.close();
  });

  test("the client library: getToken's narrower token revokes a channel, which the subscription drops", async () => {
    let calls = 0;
    const getToken = (): string => {
      calls += 1;
      const channels = calls === 1 ? ["lib:*"] : ["lib:kept"];
      return mintToken({ sub: "dora", channels, ttl: 3 }, SECRET);
    };
    const sub = subscribe(["lib:kept", "lib:gone"], { url: stack.base, transport: "ws", WebSocket, EventSource, getToken, refreshSeconds: 1 });
    const notices: Notice[] = [];
    sub.on("notice", (notice) => notices.push(notice));
    try {
      expect(await eventually(() => notices.some((n) => n.notice === "revoked"), 6000)).toBe(true);
      expect(notices.filter((n) => n.notice === "revoked")).toEqual([
        { notice: "revoked", channel: "lib:gone", message: "channel lib:gone is no longer granted: unsubscribed" },
      ]);
      expect(sub.channels).toEqual(["lib:kept"]);
      expect(sub.state).toBe("open");
    } finally {
      sub.close();
    }
  });
});
