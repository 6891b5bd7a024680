// content_by_lua entry of the subscribe location: parse, subscribe through the configured mode,
// then copy events to the client until it goes away, Redis goes away, or nginx shuts down.

import type { LineFormat, Settings } from "./config/schema";
import { parseChannelList } from "./protocol/channel";
import { fail, queryArg } from "./host/http";
import * as settingsHolder from "./host/settings";
import * as direct from "./subscribe/direct";
import * as shared from "./subscribe/shared";
import type { SubscriptionMode } from "./subscribe/mode";
import * as chunked from "./transport/chunked";

/** Copies events to the client until the stream ends. */
function pump<S>(mode: SubscriptionMode<S>, subscription: S, format: LineFormat, settings: Settings): void {
  const heartbeatMs = settings.heartbeatSeconds * 1000;
  const waitMs = mode.waitMs(heartbeatMs);
  let idleMs = 0;
  for (;;) {
    const [kind, a, b] = mode.next(subscription, waitMs);
    if (kind === "message") {
      idleMs = 0;
      const [written] = chunked.write(format, a, b);
      if (written === undefined) {
        return; // the client is gone
      }
    } else if (kind === "timeout") {
      if (ngx.worker.exiting()) {
        chunked.close(format, "server restart", true);
        return;
      }
      idleMs += waitMs;
      if (idleMs >= heartbeatMs) {
        idleMs = 0;
        const [written] = chunked.heartbeat();
        if (written === undefined) {
          return;
        }
      }
    } else if (kind === "notice") {
      idleMs = 0;
      const [written] = chunked.notice(format, a, b);
      if (written === undefined) {
        return;
      }
    } else if (kind === "lost") {
      ngx.log(ngx.WARN, "redis subscription ended: ", a);
      chunked.close(format, "redis connection lost", true);
      return;
    } else if (kind === "overflow") {
      chunked.close(format, a, true);
      return;
    } else {
      chunked.close(format, "server restart", true);
      return;
    }
  }
}

function serve<S>(mode: SubscriptionMode<S>, channels: string[], format: LineFormat, settings: Settings): void {
  const [subscription, subscribeErr] = mode.open(channels, settings);
  if (subscription === undefined) {
    ngx.log(ngx.ERR, `${subscribeErr}`);
    return fail(503, "redis is unavailable, try again later", settings.retryAfterSeconds);
  }
  ngx.on_abort(() => {
    // ngx.exit ends every thread of the request; release the subscription first.
    mode.close(subscription);
    ngx.exit(499);
  });
  const [opened] = chunked.open();
  if (opened !== undefined) {
    const [ok, err] = pcall(pump, mode, subscription, format, settings);
    if (!ok) {
      ngx.log(ngx.ERR, "stream failed: ", tostring(err));
    }
  }
  mode.close(subscription);
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
  if (settings.mode === "shared") {
    serve(shared, channels, formatArg, settings);
  } else {
    serve(direct, channels, formatArg, settings);
  }
}
