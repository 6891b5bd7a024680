// content_by_lua entry of the publish location: POST /pub?channel=abc with the message as body.
// Durable: the message is kept in the channel's history and gets an id. Answers
// {"channel":"abc","id":"1700000000000-0","subscribers":N}; optional ?event=<name> and an
// Idempotency-Key header (or ?idempotency_key=) so a retried publish is stored once.

import { applyCors } from "../host/cors";
import { fail, queryArg, requestHeader, uriArgs } from "../host/http";
import { quoteJson } from "../host/json";
import * as metrics from "../host/metrics";
import * as settingsHolder from "../host/settings";
import * as access from "../policy/access";
import { CHANNEL_RULE, isValidChannel } from "../protocol/channel";
import { isValidEvent } from "../protocol/envelope";
import { isValidIdempotencyKey } from "../protocol/keys";
import { publishAs } from "../stream/publish";
import { failWith } from "./answer";
import { credentialsOf } from "./request";

function readBody(): LuaMultiReturn<[string] | [undefined, string]> {
  ngx.req.read_body();
  const data = ngx.req.get_body_data();
  if (data !== undefined) {
    return $multi(data);
  }
  const path = ngx.req.get_body_file();
  if (path === undefined) {
    return $multi(""); // an empty body is an empty message
  }
  const [file, openErr] = io.open(path, "rb");
  if (file === undefined) {
    return $multi(undefined, `failed to read request body: ${openErr}`);
  }
  const content = file.read("*a");
  file.close();
  return $multi(content ?? "");
}

export function handle(): void {
  const settings = settingsHolder.get();
  applyCors(settings, "POST, OPTIONS");
  if (ngx.req.get_method() !== "POST") {
    ngx.header.set("Allow", "POST");
    return fail(405, "use POST with the message as the body");
  }
  const args = uriArgs();
  const channel = queryArg(args, "channel") ?? "";
  if (channel.length === 0) {
    return fail(400, "no channel given: use ?channel=<channel>");
  }
  if (!isValidChannel(channel)) {
    return fail(400, `invalid channel name: a name is ${CHANNEL_RULE}`);
  }
  const [publisher, authFailure] = access.forPublish(settings, credentialsOf(settings, args));
  if (publisher === undefined) {
    return failWith(settings, authFailure);
  }
  const declaredLength = tonumber(requestHeader("content-length") ?? "0") ?? 0;
  if (declaredLength > settings.maxMessageBytes) {
    return fail(413, `message too large: the limit is ${settings.maxMessageBytes} bytes`);
  }
  const event = queryArg(args, "event");
  if (event !== undefined && !isValidEvent(event)) {
    return fail(400, "invalid event name: 1 to 64 characters of A-Z a-z 0-9 _ - . :");
  }
  const idempotency = requestHeader("idempotency-key") ?? queryArg(args, "idempotency_key");
  if (idempotency !== undefined && !isValidIdempotencyKey(idempotency)) {
    return fail(400, "invalid idempotency key: 1 to 128 visible ASCII characters");
  }
  const [message, bodyErr] = readBody();
  if (message === undefined) {
    ngx.log(ngx.ERR, bodyErr);
    return fail(500, "failed to read the message");
  }

  const [published, failure] = publishAs(settings, publisher, channel, message, { event, idempotencyKey: idempotency });
  metrics.published(published === undefined ? failure.kind : undefined);
  if (published === undefined) {
    return failWith(settings, failure);
  }
  ngx.header.set("Content-Type", "application/json");
  const duplicate = published.duplicate ? ',"duplicate":true' : "";
  ngx.print(`{"channel":${quoteJson(channel)},"id":${quoteJson(published.id)},"subscribers":${published.subscribers}${duplicate}}\n`);
}
