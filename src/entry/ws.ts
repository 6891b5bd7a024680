// content_by_lua entry of GET /ws: WebSocket. `?key=a,b` subscribes at connect (optional: a
// client may subscribe with control frames later). Hands off to the stream core.

import { originAllowed } from "../host/cors";
import { channelsArg, fail, requestHeader, uriArgs } from "../host/http";
import * as settingsHolder from "../host/settings";
import { serveDuplex } from "../stream/session";
import { WebSocketTransport } from "../transport/websocket";
import { failWith } from "./answer";
import { streamRequest } from "./request";

export function handle(): void {
  const settings = settingsHolder.get();
  const upgrade = requestHeader("upgrade");
  if (upgrade === undefined || string.lower(upgrade) !== "websocket") {
    ngx.header.set("Upgrade", "websocket");
    return fail(426, "use a WebSocket upgrade: GET /ws?key=<channel>[,<channel>...] with Upgrade: websocket");
  }
  if (!originAllowed(settings)) {
    return fail(403, "origin not allowed: see PUSHGATE_CORS_ORIGINS");
  }
  const args = uriArgs();
  const channels = channelsArg(args, settings.maxChannels, true);
  const failure = serveDuplex(streamRequest(settings, channels, args), new WebSocketTransport(settings), settings);
  if (failure !== undefined) {
    failWith(settings, failure);
  }
}
