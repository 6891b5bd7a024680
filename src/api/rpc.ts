// JSON-RPC 2.0 of POST /api: reads a request or a batch, checks each call's shape, runs its method
// and frames the answers (protocol/jsonrpc.ts). A call without an id is a notification: it runs,
// and nothing is answered for it.

import * as cjson from "cjson";
import type { Settings } from "../config/schema";
import { quoteJson } from "../host/json";
import type * as access from "../policy/access";
import { errorText, INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND, PARSE_ERROR, resultText, RpcError, rpcError } from "../protocol/jsonrpc";
import type { WorkerStatus } from "../protocol/status";
import * as acting from "./acting";
import { isArray, isTable, Params } from "./params";
import * as people from "./people";
import * as publishing from "./publishing";
import type { Result } from "./publishing";

/** What the methods work with: the settings, who calls, and the workers' status for info. */
export interface Caller {
  settings: Settings;
  publisher: access.Publisher;
  workers: (this: void) => WorkerStatus[];
}

/** At most this many calls in one batch. */
const MAX_CALLS = 1000;

function run(caller: Caller, method: string, params: Params): Result {
  const settings = caller.settings;
  if (method === "publish") {
    return publishing.publish(settings, caller.publisher, params);
  } else if (method === "broadcast") {
    return publishing.broadcast(settings, caller.publisher, params);
  } else if (method === "publish_many") {
    return publishing.publishMany(settings, caller.publisher, params);
  } else if (method === "history") {
    return publishing.history(settings, params);
  } else if (method === "presence") {
    return people.channelPresence(settings, params, true);
  } else if (method === "presence_stats") {
    return people.channelPresence(settings, params, false);
  } else if (method === "online") {
    return people.online(settings, params);
  } else if (method === "channels") {
    return people.channels(settings, params);
  } else if (method === "unread") {
    return people.unread(settings, params);
  } else if (method === "disconnect") {
    return acting.disconnect(settings, params);
  } else if (method === "revoke") {
    return acting.revoke(settings, params);
  } else if (method === "info") {
    return people.info(settings, caller.workers(), `${ngx.config.ngx_lua_version}`);
  }
  return $multi(undefined, rpcError(METHOD_NOT_FOUND, `method not found: ${method}`));
}

/** The id as JSON text, or undefined when the call has none (a notification); false when it is not a valid id. */
function idText(id: unknown): string | undefined | false {
  if (id === undefined) {
    return undefined;
  } else if (id === ngx.null) {
    return "null";
  } else if (typeof id === "string") {
    return quoteJson(id);
  } else if (typeof id === "number" && id === math.floor(id)) {
    return string.format("%d", id);
  }
  return false;
}

/** One call's answer, or undefined for a notification. */
function callOne(caller: Caller, call: unknown): string | undefined {
  if (!isTable(call) || isArray(call)) {
    return errorText("null", rpcError(INVALID_REQUEST, "invalid request: a call is an object"), quoteJson);
  }
  const fields = call as Params;
  const id = idText(fields.get("id"));
  if (id === false) {
    return errorText("null", rpcError(INVALID_REQUEST, "invalid request: id must be a string, an integer or null"), quoteJson);
  }
  const method = fields.get("method");
  if (fields.get("jsonrpc") !== "2.0" || typeof method !== "string") {
    return errorText(id ?? "null", rpcError(INVALID_REQUEST, 'invalid request: jsonrpc must be "2.0" and method a string'), quoteJson);
  }
  let params = fields.get("params");
  if (params === undefined || params === ngx.null) {
    params = new LuaTable();
  }
  let result: string | undefined;
  let err: RpcError | undefined;
  if (!isTable(params) || isArray(params)) {
    err = rpcError(INVALID_PARAMS, "invalid params: params must be an object (named params)");
  } else {
    [result, err] = run(caller, method, params as Params);
  }
  if (id === undefined) {
    return undefined;
  }
  return result !== undefined ? resultText(id, result) : errorText(id, err ?? rpcError(INVALID_PARAMS, "invalid params"), quoteJson);
}

/** The answer to a request body, or undefined when nothing is to be answered (notifications only). */
export function answer(caller: Caller, body: string): string | undefined {
  const [ok, decoded] = pcall(cjson.decode, body);
  if (!ok) {
    return errorText("null", rpcError(PARSE_ERROR, "parse error: the body is not valid JSON"), quoteJson);
  }
  if (string.match(body, "^%s*%[")[0] === undefined) {
    return callOne(caller, decoded);
  }
  if (!isArray(decoded)) {
    return errorText("null", rpcError(INVALID_REQUEST, "invalid request: an empty batch"), quoteJson);
  }
  const calls = decoded as unknown[];
  if (calls.length > MAX_CALLS) {
    return errorText("null", rpcError(INVALID_REQUEST, `invalid request: at most ${MAX_CALLS} calls in a batch`), quoteJson);
  }
  const answers: string[] = [];
  for (const call of calls) {
    const one = callOne(caller, call);
    if (one !== undefined) {
      answers.push(one);
    }
  }
  return answers.length > 0 ? `[${answers.join(",")}]` : undefined;
}
