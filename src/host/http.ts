// Small helpers for answering HTTP requests from content_by_lua handlers.

import ffi = require("ffi");
import base = require("resty.core.base");
import { parseChannelList } from "../protocol/channel";
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

/** The request's query arguments as ngx.req.get_uri_args gives them. */
export type UriArgs = LuaTable<string, string | boolean | Array<string | boolean>>;

/**
 * Parses the query arguments (up to 64). Each call builds a new table: a handler parses once and
 * passes them on.
 */
export function uriArgs(): UriArgs {
  const [args] = ngx.req.get_uri_args(64);
  return args;
}

/**
 * One query argument as a string: undefined when absent, "" for a bare `?name`, and the values
 * joined with commas when it is repeated (`?key=a&key=b` is `a,b`).
 */
export function queryArg(args: UriArgs, name: string): string | undefined {
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

/**
 * One request header as a string (the first, when it is repeated), or undefined. Read through
 * $http_<name>: ngx.req.get_headers() would build a table of every header for one value.
 */
export function requestHeader(name: string): string | undefined {
  const [variable] = string.gsub(string.lower(name), "-", "_");
  return ngx.var.get(`http_${variable}`);
}

/** Sends the status and headers of a stream that is written as it goes. */
export function openStream(contentType: string): LuaMultiReturn<[1] | [undefined, string]> {
  ngx.status = 200;
  ngx.header.set("Content-Type", contentType);
  ngx.header.set("Cache-Control", "no-cache, no-store");
  ngx.header.set("X-Accel-Buffering", "no");
  const [sent, err] = ngx.send_headers();
  if (sent === undefined) {
    return $multi(undefined, err);
  }
  ngx.flush(true);
  return $multi(sent);
}

/** Writes and waits until it is handed to the socket (back-pressure on slow clients). */
export function write(data: NgxPrintable): LuaMultiReturn<[1] | [undefined, string]> {
  const [printed, err] = ngx.print(data);
  if (printed === undefined) {
    return $multi(undefined, err);
  }
  return ngx.flush(true);
}

/**
 * Writes without flushing: nginx sends once postpone_output's bytes have gathered, or at the next
 * flush(). A stream writes a burst so, in few system calls, and flushes when its queue is empty.
 */
export function buffer(data: NgxPrintable): LuaMultiReturn<[1] | [undefined, string]> {
  return ngx.print(data);
}

/** Sends what buffer() gathered and waits until it is handed to the socket (back-pressure). */
export function flush(): LuaMultiReturn<[1] | [undefined, string]> {
  return ngx.flush(true);
}

/**
 * The channels of `?key=a,b` (parseChannelList); answers 400 and ends the request when they are
 * invalid. With `optional`, no key means no channels.
 */
export function channelsArg(args: UriArgs, maxChannels: number, optional = false): string[] {
  const raw = queryArg(args, "key") ?? "";
  if (optional && raw.length === 0) {
    return [];
  }
  const [channels, err] = parseChannelList(raw, maxChannels);
  if (channels === undefined) {
    return fail(400, err);
  }
  return channels;
}

/**
 * A number that names the current request while it lives (its address): the same in its content
 * and log phases, so a table keyed by it finds the request's own record without ngx.ctx (a table
 * per request).
 */
export function requestKey(): number {
  return tonumber(ffi.cast("uintptr_t", base.get_request())) as number;
}
