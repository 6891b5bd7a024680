// Reading the named params of a JSON-RPC call (decoded by cjson): each reader gives the value, or
// an invalid-params error that names the param and its rule.

import { isValidChannel } from "../protocol/channel";
import { invalidParam, RpcError } from "../protocol/jsonrpc";

export type Params = LuaTable<string, unknown>;

/** True when `value` is a JSON object or array (cjson decodes both to a table). */
export function isTable(value: unknown): value is LuaTable<string | number, unknown> {
  return type(value) === "table";
}

/** True when a decoded table is a non-empty JSON array (an empty one reads as {} too). */
export function isArray(value: unknown): boolean {
  return isTable(value) && value.get(1) !== undefined;
}

/** A string param; undefined (and no error) when absent and optional. `path` names it in errors (items[2].data). */
export function str(params: Params, name: string, optional: boolean, path = name): LuaMultiReturn<[string | undefined, undefined?] | [undefined, RpcError]> {
  const value = params.get(name);
  if (value === undefined || value === ngx.null) {
    if (optional) {
      return $multi(undefined);
    }
    return $multi(undefined, invalidParam(path, "is required"));
  }
  if (typeof value !== "string") {
    return $multi(undefined, invalidParam(path, "must be a string"));
  }
  return $multi(value);
}

/** A channel name param. */
export function channel(params: Params, name: string, path = name): LuaMultiReturn<[string, undefined?] | [undefined, RpcError]> {
  const [value, err] = str(params, name, false, path);
  if (value === undefined) {
    return $multi(undefined, err ?? invalidParam(path, "is required"));
  }
  if (!isValidChannel(value)) {
    return $multi(undefined, invalidParam(path, "must be a channel name: 1 to 128 characters of A-Z a-z 0-9 _ - . : @ /"));
  }
  return $multi(value);
}

/** An integer param from `min` to `max`, or `fallback` when absent. */
export function int(params: Params, name: string, min: number, max: number, fallback: number): LuaMultiReturn<[number, undefined?] | [undefined, RpcError]> {
  const value = params.get(name);
  if (value === undefined || value === ngx.null) {
    return $multi(fallback);
  }
  if (typeof value !== "number" || value !== math.floor(value) || value < min || value > max) {
    return $multi(undefined, invalidParam(name, `must be an integer from ${min} to ${max}`));
  }
  return $multi(value);
}

/** A boolean param, or false when absent. */
export function bool(params: Params, name: string): LuaMultiReturn<[boolean, undefined?] | [undefined, RpcError]> {
  const value = params.get(name);
  if (value === undefined || value === ngx.null) {
    return $multi(false);
  }
  if (typeof value !== "boolean") {
    return $multi(undefined, invalidParam(name, "must be true or false"));
  }
  return $multi(value);
}

/** A non-empty list of strings, at most `max`; `channels`: each a valid channel name. */
export function strings(params: Params, name: string, max: number, channels: boolean): LuaMultiReturn<[string[]] | [undefined, RpcError]> {
  const value = params.get(name);
  if (!isArray(value)) {
    return $multi(undefined, invalidParam(name, `must be a non-empty array of at most ${max} strings`));
  }
  const items = value as unknown[];
  if (items.length > max) {
    return $multi(undefined, invalidParam(name, `must be a non-empty array of at most ${max} strings`));
  }
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    if (typeof item !== "string" || (channels && !isValidChannel(item))) {
      return $multi(undefined, invalidParam(`${name}[${i}]`, channels ? "must be a channel name" : "must be a string"));
    }
  }
  return $multi(items as string[]);
}
