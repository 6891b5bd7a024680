// The publishing methods of the server API: publish (the one publishing path, as POST /pub),
// broadcast and publish_many (pipelined: every FCALL in one write, one round trip; in a Redis
// Cluster one routed call per message through the store's session, store/messages.publishEach),
// history (routed by the channel's slot in a cluster).

import type { Settings } from "../config/schema";
import { quoteJson } from "../host/json";
import * as access from "../policy/access";
import { isValidEvent } from "../protocol/envelope";
import { FAILURE_CODES, invalidParam, RpcError, rpcError, UNAVAILABLE } from "../protocol/jsonrpc";
import { isValidIdempotencyKey, metaKey, streamKey } from "../protocol/keys";
import { publishAs } from "../stream/publish";
import * as functions from "../store/functions";
import { historyOf, publishEach } from "../store/messages";
import * as events from "../store/events";
import * as pool from "../store/pool";
import * as servers from "../store/servers";
import { isCluster } from "../store/topology";
import * as param from "./params";
import type { Params } from "./params";

/** Publishes in one call at most this many messages. */
export const MAX_BATCH = 10000;

export type Result = LuaMultiReturn<[string, undefined?] | [undefined, RpcError]>;

interface Fcall {
  fcall(this: Fcall, ...args: string[]): unknown;
}

function eventParam(params: Params, name: string, path = name): LuaMultiReturn<[string, undefined?] | [undefined, RpcError]> {
  const [event, err] = param.str(params, name, true, path);
  if (err !== undefined) {
    return $multi(undefined, err);
  }
  if (event !== undefined && !isValidEvent(event)) {
    return $multi(undefined, invalidParam(path, "must be 1 to 64 characters of A-Z a-z 0-9 _ - . :"));
  }
  return $multi(event ?? "");
}

/** The message of a publish or broadcast: `data` (required) and `event` ("" for none). */
function payload(params: Params): LuaMultiReturn<[string, string, undefined] | [undefined, undefined, RpcError]> {
  const [data, dataErr] = param.str(params, "data", false);
  if (data === undefined) {
    return $multi(undefined, undefined, dataErr ?? invalidParam("data", "is required"));
  }
  const [event, eventErr] = eventParam(params, "event");
  if (event === undefined) {
    return $multi(undefined, undefined, eventErr);
  }
  return $multi(data, event, undefined);
}

export function publish(settings: Settings, publisher: access.Publisher, params: Params): Result {
  const [channel, channelErr] = param.channel(params, "channel");
  if (channel === undefined) {
    return $multi(undefined, channelErr);
  }
  const [data, event, payloadErr] = payload(params);
  if (data === undefined) {
    return $multi(undefined, payloadErr);
  }
  const [idempotencyKey, keyErr] = param.str(params, "idempotencyKey", true);
  if (keyErr !== undefined) {
    return $multi(undefined, keyErr);
  }
  if (idempotencyKey !== undefined && !isValidIdempotencyKey(idempotencyKey)) {
    return $multi(undefined, invalidParam("idempotencyKey", "must be 1 to 128 visible ASCII characters"));
  }
  const [published, failure] = publishAs(settings, publisher, channel, data, { event: event !== "" ? event : undefined, idempotencyKey });
  if (published === undefined) {
    return $multi(undefined, rpcError(FAILURE_CODES[failure.kind], failure.message));
  }
  const duplicate = published.duplicate ? ',"duplicate":true' : "";
  return $multi(`{"channel":${quoteJson(channel)},"id":${quoteJson(published.id)},"subscribers":${published.subscribers}${duplicate}}`);
}

/** Publishes every [channel, data, event] one routed call each (a cluster): the same answer as pipelined. */
function oneByOne(settings: Settings, items: Array<[string, string, string]>): Result {
  const [results, failure] = publishEach(settings, items);
  if (results === undefined) {
    return $multi(undefined, rpcError(UNAVAILABLE, failure.message));
  }
  const out: string[] = [];
  const stored: string[] = [];
  const ids: string[] = [];
  for (let i = 0; i < items.length; i++) {
    const result = results[i];
    const channel = quoteJson(items[i][0]);
    if (typeof result === "string") {
      out.push(`{"channel":${channel},"error":${quoteJson(result)}}`);
    } else {
      out.push(`{"channel":${channel},"id":${quoteJson(result.id)},"subscribers":${result.subscribers}}`);
      stored.push(items[i][0]);
      ids.push(result.id);
    }
  }
  events.publishedMany(settings, stored, ids); // inbox messages may fall due for unread events
  return $multi(`[${out.join(",")}]`);
}

/** Publishes every [channel, data, event] in one pipeline: a JSON array of {channel, id, subscribers} or {channel, error}. */
function pipelined(settings: Settings, items: Array<[string, string, string]>): Result {
  if (isCluster(settings)) {
    return oneByOne(settings, items);
  }
  const [red, failure] = servers.acquire(settings);
  if (red === undefined) {
    return $multi(undefined, rpcError(UNAVAILABLE, failure.message));
  }
  const idemMs = `${settings.idempotencySeconds * 1000}`;
  let replies: unknown[] | undefined;
  for (let attempt = 0; attempt < 2 && replies === undefined; attempt++) {
    red.init_pipeline(items.length);
    for (const [channel, data, event] of items) {
      const rule = historyOf(settings, channel);
      (red as unknown as Fcall).fcall(
        "pushgate_publish",
        "2",
        streamKey(channel),
        metaKey(channel),
        channel,
        data,
        event,
        `${rule.length}`,
        `${rule.seconds * 1000}`,
        idemMs,
      );
    }
    const [got, err] = red.commit_pipeline();
    if (got === undefined) {
      servers.release(red, true);
      ngx.log(ngx.ERR, "failed to publish a batch: ", err);
      return $multi(undefined, rpcError(UNAVAILABLE, "redis is unavailable, try again later"));
    }
    const first = (got as unknown[])[0] as unknown[];
    const missing = first[0] === false && string.find(`${first[1] as string}`, "Function not found", 1, true)[0] !== undefined;
    if (missing && attempt === 0) {
      functions.loadLibrary(red);
    } else {
      replies = got as unknown[];
    }
  }
  servers.release(red);
  const out: string[] = [];
  const stored: string[] = [];
  const ids: string[] = [];
  for (let i = 0; i < items.length; i++) {
    const reply = (replies ?? [])[i] as unknown[];
    const channel = quoteJson(items[i][0]);
    if (reply[0] === false) {
      out.push(`{"channel":${channel},"error":${quoteJson(`${reply[1] as string}`)}}`);
    } else {
      out.push(`{"channel":${channel},"id":${quoteJson(reply[0] as string)},"subscribers":${reply[1] as number}}`);
      stored.push(items[i][0]);
      ids.push(reply[0] as string);
    }
  }
  events.publishedMany(settings, stored, ids); // inbox messages may fall due for unread events
  return $multi(`[${out.join(",")}]`);
}

function allowed(settings: Settings, publisher: access.Publisher, channel: string, data: string, name: string): RpcError | undefined {
  const [ok, refusal] = access.mayPublish(publisher, channel);
  if (ok === undefined) {
    return rpcError(FAILURE_CODES[refusal.kind], refusal.message);
  }
  if (data.length > settings.maxMessageBytes) {
    return rpcError(FAILURE_CODES["too-large"], `${name}: message too large: the limit is ${settings.maxMessageBytes} bytes`);
  }
  return undefined;
}

export function broadcast(settings: Settings, publisher: access.Publisher, params: Params): Result {
  const [channels, channelsErr] = param.strings(params, "channels", MAX_BATCH, true);
  if (channels === undefined) {
    return $multi(undefined, channelsErr);
  }
  const [data, event, payloadErr] = payload(params);
  if (data === undefined) {
    return $multi(undefined, payloadErr);
  }
  const items: Array<[string, string, string]> = [];
  for (const channel of channels) {
    const refusal = allowed(settings, publisher, channel, data, "data");
    if (refusal !== undefined) {
      return $multi(undefined, refusal);
    }
    items.push([channel, data, event]);
  }
  return pipelined(settings, items);
}

export function publishMany(settings: Settings, publisher: access.Publisher, params: Params): Result {
  const list = params.get("items");
  if (!param.isArray(list) || (list as unknown[]).length > MAX_BATCH) {
    return $multi(undefined, invalidParam("items", `must be a non-empty array of at most ${MAX_BATCH} {channel, data, event?}`));
  }
  const items: Array<[string, string, string]> = [];
  const given = list as unknown[];
  for (let i = 0; i < given.length; i++) {
    const item = given[i];
    if (!param.isTable(item)) {
      return $multi(undefined, invalidParam(`items[${i}]`, "must be an object {channel, data, event?}"));
    }
    const [channel, channelErr] = param.channel(item as Params, "channel", `items[${i}].channel`);
    const [data, dataErr] = param.str(item as Params, "data", false, `items[${i}].data`);
    const [event, eventErr] = eventParam(item as Params, "event", `items[${i}].event`);
    if (channel === undefined || data === undefined || event === undefined) {
      return $multi(undefined, (channelErr ?? dataErr ?? eventErr) as RpcError);
    }
    const refusal = allowed(settings, publisher, channel, data, `items[${i}].data`);
    if (refusal !== undefined) {
      return $multi(undefined, refusal);
    }
    items.push([channel, data, event]);
  }
  return pipelined(settings, items);
}

export function history(settings: Settings, params: Params): Result {
  const [channel, channelErr] = param.channel(params, "channel");
  if (channel === undefined) {
    return $multi(undefined, channelErr);
  }
  const [since, sinceErr] = param.str(params, "since", true);
  const [before, beforeErr] = param.str(params, "before", true);
  const [limit, limitErr] = param.int(params, "limit", 1, 1000, 100);
  const [reverse, reverseErr] = param.bool(params, "reverse");
  const err = sinceErr ?? beforeErr ?? limitErr ?? reverseErr;
  if (err !== undefined || limit === undefined || reverse === undefined) {
    return $multi(undefined, err ?? invalidParam("limit", "must be an integer"));
  }
  for (const [name, id] of [
    ["since", since],
    ["before", before],
  ]) {
    if (id !== undefined && string.match(id, "^%d+%-%d+$")[0] === undefined) {
      return $multi(undefined, invalidParam(name ?? "", "must be a message id (<ms>-<seq>)"));
    }
  }
  const [reply, failure] = pool.call(
    settings,
    "read history",
    "pushgate_history_page",
    [streamKey(channel)],
    [since ?? "", before ?? "", `${limit}`, reverse ? "1" : "0"],
  );
  if (reply === undefined) {
    return $multi(undefined, rpcError(FAILURE_CODES[failure.kind], failure.message));
  }
  const out: string[] = [];
  for (const entry of reply as Array<[string, string, string]>) {
    const event = entry[2] !== "" ? `,"event":${quoteJson(entry[2])}` : "";
    out.push(`{"id":${quoteJson(entry[0])}${event},"data":${quoteJson(entry[1])}}`);
  }
  return $multi(`{"channel":${quoteJson(channel)},"messages":[${out.join(",")}]}`);
}
