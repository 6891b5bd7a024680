// The server API's methods that act on users: disconnect (end every stream of a user on every
// gateway, with a reason and whether to come back) and revoke (a token by its jti, or a user's
// tokens issued before a time). Both are orders in the control stream (store/control.ts), which
// every worker of every gateway reads twice a second (stream/control.ts): the answer comes once
// Redis holds the order, and the streams end asynchronously, within about a second.

import type { Settings } from "../config/schema";
import { quoteJson } from "../host/json";
import { FAILURE_CODES, INVALID_PARAMS, invalidParam, rpcError } from "../protocol/jsonrpc";
import * as control from "../store/control";
import * as param from "./params";
import type { Params } from "./params";
import type { Result } from "./publishing";

/** A reason is a WebSocket close reason too: at most 123 bytes there. */
const MAX_REASON_BYTES = 120;
const MAX_NAME_BYTES = 256;

function sent(settings: Settings, kind: "disconnect" | "jti" | "before", target: string, a: string, b: string): Result {
  const [id, failure] = control.send(settings, kind, target, a, b);
  if (id === undefined) {
    return $multi(undefined, rpcError(FAILURE_CODES[failure.kind], failure.message));
  }
  return $multi(`{"order":${quoteJson(id)}}`);
}

/** A non-empty string param of at most MAX_NAME_BYTES. */
function name(params: Params, key: string, optional: boolean): ReturnType<typeof param.str> {
  const [value, err] = param.str(params, key, optional);
  if (err !== undefined) {
    return $multi(undefined, err);
  }
  if (value !== undefined && (value.length === 0 || value.length > MAX_NAME_BYTES)) {
    return $multi(undefined, invalidParam(key, `must be 1 to ${MAX_NAME_BYTES} bytes`));
  }
  return $multi(value);
}

/** disconnect {user, reason?, reconnect?}: reconnect defaults to true (the client may come back). */
export function disconnect(settings: Settings, params: Params): Result {
  const [user, userErr] = name(params, "user", false);
  if (user === undefined) {
    return $multi(undefined, userErr ?? invalidParam("user", "is required"));
  }
  const [reason, reasonErr] = param.str(params, "reason", true);
  if (reasonErr !== undefined) {
    return $multi(undefined, reasonErr);
  }
  if (reason !== undefined && reason.length > MAX_REASON_BYTES) {
    return $multi(undefined, invalidParam("reason", `must be at most ${MAX_REASON_BYTES} bytes`));
  }
  const again = params.get("reconnect");
  if (again !== undefined && again !== ngx.null && typeof again !== "boolean") {
    return $multi(undefined, invalidParam("reconnect", "must be true or false"));
  }
  return sent(settings, "disconnect", user, reason ?? "", again === false ? "0" : "1");
}

/** revoke {jti} | {user, before}: before in seconds since the epoch (a token's iat below it is refused). */
export function revoke(settings: Settings, params: Params): Result {
  const [jti, jtiErr] = name(params, "jti", true);
  const [user, userErr] = name(params, "user", true);
  if (jtiErr !== undefined || userErr !== undefined) {
    return $multi(undefined, jtiErr ?? userErr!);
  }
  if ((jti === undefined) === (user === undefined)) {
    return $multi(undefined, rpcError(INVALID_PARAMS, "invalid params: give either jti, or user and before"));
  }
  if (jti !== undefined) {
    return sent(settings, "jti", jti, "", "");
  }
  const before = params.get("before");
  if (typeof before !== "number" || before !== before || before <= 0 || before > 1e11) {
    return $multi(undefined, invalidParam("before", "must be a time in seconds since the epoch"));
  }
  return sent(settings, "before", user!, string.format("%.3f", before), "");
}
