// Small helpers for answering HTTP requests from content_by_lua handlers.

import { errorBody } from "../protocol/frame";
import { quoteJson } from "./json";

/** Answers `status` with {"error": message} and ends the request. */
export function fail(status: number, message: string, retryAfterSeconds?: number): never {
  ngx.status = status;
  ngx.header.set("Content-Type", "application/json");
  ngx.header.set("Cache-Control", "no-store");
  if (retryAfterSeconds !== undefined) {
    ngx.header.set("Retry-After", `${retryAfterSeconds}`);
  }
  ngx.print(errorBody(message, quoteJson));
  return ngx.exit(status);
}

/**
 * One query argument as a string: undefined when absent, "" for a bare `?name`, and the values
 * joined with commas when it is repeated (`?key=a&key=b` is `a,b`).
 */
export function queryArg(args: LuaTable<string, string | boolean | Array<string | boolean>>, name: string): string | undefined {
  const value = args.get(name);
  if (value === undefined) {
    return undefined;
  }
  if (value === true || value === false) {
    return "";
  }
  if (type(value) === "table") {
    const parts: string[] = [];
    for (const part of value as Array<string | boolean>) {
      parts.push(typeof part === "string" ? part : "");
    }
    return parts.join(",");
  }
  return value as string;
}
