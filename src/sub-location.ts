// content_by_lua entry of the subscribe location: parse, hand off to the subscription mode,
// then copy messages to the client until it goes away, Redis goes away, or nginx shuts down.

import type { LineFormat } from "./config/schema";
import { parseChannelList } from "./protocol/channel";
import { fail, queryArg } from "./host/http";
import * as settingsHolder from "./host/settings";
import * as direct from "./subscribe/direct";
import * as chunked from "./transport/chunked";

/** How often an idle stream looks up from Redis to check shutdown and heartbeats, in ms. */
const TICK_MS = 1000;

function onClientAbort(this: void): void {
  // Ends every light thread of the request; its cleanup closes the Redis connection.
  ngx.exit(499);
}

export function handle(): void {
  const settings = settingsHolder.get();
  const [args] = ngx.req.get_uri_args(64);

  const [channels, channelErr] = parseChannelList(queryArg(args, "key") ?? "", settings.maxChannels);
  if (channels === undefined) {
    return fail(400, channelErr);
  }
  const formatArg = queryArg(args, "format") ?? settings.format;
  if (formatArg !== "object" && formatArg !== "array") {
    return fail(400, `invalid format "${formatArg}": use object or array`);
  }
  const format: LineFormat = formatArg;

  const [subscription, subscribeErr] = direct.open(channels, settings);
  if (subscription === undefined) {
    ngx.log(ngx.ERR, subscribeErr);
    return fail(503, "redis is unavailable, try again later", settings.retryAfterSeconds);
  }
  ngx.on_abort(onClientAbort);

  const [opened] = chunked.open();
  if (opened === undefined) {
    direct.close(subscription);
    return;
  }

  const heartbeatMs = settings.heartbeatSeconds * 1000;
  const tickMs = math.min(TICK_MS, heartbeatMs);
  let idleMs = 0;
  for (;;) {
    const [channel, payloadOrErr] = direct.next(subscription, tickMs);
    if (channel !== undefined) {
      idleMs = 0;
      const [written] = chunked.write(format, channel, payloadOrErr);
      if (written === undefined) {
        break; // the client is gone
      }
    } else if (payloadOrErr === "timeout") {
      if (ngx.worker.exiting()) {
        chunked.close(format, "server restart", true);
        break;
      }
      idleMs += tickMs;
      if (idleMs >= heartbeatMs) {
        idleMs = 0;
        const [written] = chunked.heartbeat();
        if (written === undefined) {
          break;
        }
      }
    } else {
      ngx.log(ngx.WARN, "redis subscription ended: ", payloadOrErr);
      chunked.close(format, "redis connection lost", true);
      break;
    }
  }
  direct.close(subscription);
}
