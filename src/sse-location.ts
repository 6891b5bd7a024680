// content_by_lua entry of GET /sse (and of /sub asked for `Accept: text/event-stream`):
// Server-Sent Events. Parses the request and hands off to the stream core (src/stream.ts).

import { applyCors } from "./host/cors";
import { channelsArg, fail, queryArg, uriArgs } from "./host/http";
import * as settingsHolder from "./host/settings";
import { serve } from "./stream";
import { SseTransport } from "./transport/sse";

export function handle(): void {
  const settings = settingsHolder.get();
  applyCors(settings, "GET, OPTIONS");
  const args = uriArgs();
  const channels = channelsArg(args, settings.maxChannels);
  const format = queryArg(args, "format") ?? "raw";
  if (format !== "raw" && format !== "object" && format !== "array") {
    return fail(400, `invalid format "${format}": use raw, object or array`);
  }
  // EventSource waits `retry` before it reconnects: as long as a 503 asks clients to wait.
  serve(channels, new SseTransport(format, settings.retryAfterSeconds * 1000), settings, args);
}
