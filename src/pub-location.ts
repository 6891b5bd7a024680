// content_by_lua entry of the publish location: POST /pub?channel=abc with the message as body.
// Answers {"channel":"abc","subscribers":N}, N being how many Redis subscriptions received it.

import { isValidChannel, CHANNEL_RULE } from "./protocol/channel";
import { fail, queryArg } from "./host/http";
import { quoteJson } from "./host/json";
import { publish } from "./publish";
import * as settingsHolder from "./host/settings";

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
  if (ngx.req.get_method() !== "POST") {
    ngx.header.set("Allow", "POST");
    return fail(405, "use POST with the message as the body");
  }
  const [args] = ngx.req.get_uri_args(64);
  const channel = queryArg(args, "channel") ?? "";
  if (channel.length === 0) {
    return fail(400, "no channel given: use ?channel=<channel>");
  }
  if (!isValidChannel(channel)) {
    return fail(400, `invalid channel name: a name is ${CHANNEL_RULE}`);
  }
  const declaredLength = tonumber(ngx.var.get("http_content_length") ?? "0") ?? 0;
  if (declaredLength > settings.maxMessageBytes) {
    return fail(413, `message too large: the limit is ${settings.maxMessageBytes} bytes`);
  }
  const [message, bodyErr] = readBody();
  if (message === undefined) {
    ngx.log(ngx.ERR, bodyErr);
    return fail(500, "failed to read the message");
  }

  const [published, status, failure] = publish(settings, channel, message);
  if (published === undefined) {
    return fail(status, failure, status === 503 ? settings.retryAfterSeconds : undefined);
  }
  ngx.header.set("Content-Type", "application/json");
  ngx.print(`{"channel":${quoteJson(channel)},"subscribers":${published.subscribers}}\n`);
}
