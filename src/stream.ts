// The core every streaming transport shares: subscribe through the configured mode, then copy
// events to the transport until the client goes away, Redis goes away, or nginx shuts down.

import type { Settings } from "./config/schema";
import { fail } from "./host/http";
import * as direct from "./subscribe/direct";
import type { SubscriptionMode } from "./subscribe/mode";
import * as shared from "./subscribe/shared";
import type { Transport } from "./transport/transport";

function pump<S>(mode: SubscriptionMode<S>, subscription: S, transport: Transport, settings: Settings): void {
  const heartbeatMs = settings.heartbeatSeconds * 1000;
  const waitMs = mode.waitMs(heartbeatMs);
  let idleMs = 0;
  for (;;) {
    const [kind, a, b] = mode.next(subscription, waitMs);
    if (kind === "message") {
      idleMs = 0;
      const [written] = transport.message(a, b, undefined);
      if (written === undefined) {
        return; // the client is gone
      }
    } else if (kind === "timeout") {
      if (ngx.worker.exiting()) {
        transport.close("server restart", true);
        return;
      }
      idleMs += waitMs;
      if (idleMs >= heartbeatMs) {
        idleMs = 0;
        const [written] = transport.heartbeat();
        if (written === undefined) {
          return;
        }
      }
    } else if (kind === "notice") {
      idleMs = 0;
      const [written] = transport.notice(a, b);
      if (written === undefined) {
        return;
      }
    } else if (kind === "lost") {
      ngx.log(ngx.WARN, "redis subscription ended: ", a);
      transport.close("redis connection lost", true);
      return;
    } else if (kind === "overflow") {
      transport.close(a, true);
      return;
    } else {
      transport.close("server restart", true);
      return;
    }
  }
}

function serveWith<S>(mode: SubscriptionMode<S>, channels: string[], transport: Transport, settings: Settings): void {
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
  const [opened] = transport.open();
  if (opened !== undefined) {
    const [ok, err] = pcall(pump, mode, subscription, transport, settings);
    if (!ok) {
      ngx.log(ngx.ERR, "stream failed: ", tostring(err));
    }
  }
  mode.close(subscription);
}

/** Streams `channels` to `transport` in the configured subscription mode. */
export function serve(channels: string[], transport: Transport, settings: Settings): void {
  if (settings.mode === "shared") {
    serveWith(shared, channels, transport, settings);
  } else {
    serveWith(direct, channels, transport, settings);
  }
}
