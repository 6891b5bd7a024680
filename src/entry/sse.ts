// content_by_lua entry of GET /sse (and of /sub asked for `Accept: text/event-stream`):
// Server-Sent Events. Parses the request and hands off to the stream core.

import { fail, queryArg } from "../host/http";
import * as settingsHolder from "../host/settings";
import { serve } from "../stream/pump";
import { SseTransport } from "../transport/sse";
import { failWith } from "./answer";
import { streamRequest, subscribeQuery } from "./request";

export function handle(): void {
  const settings = settingsHolder.get();
  const [args, channels] = subscribeQuery(settings);
  const format = queryArg(args, "format") ?? "raw";
  if (format !== "raw" && format !== "object" && format !== "array") {
    return fail(400, `invalid format "${format}": use raw, object or array`);
  }
  // EventSource waits `retry` before it reconnects: as long as a 503 asks clients to wait.
  const transport = new SseTransport(format, settings.retryAfterSeconds * 1000);
  const failure = serve(streamRequest(settings, channels, args), transport, settings);
  if (failure !== undefined) {
    failWith(settings, failure);
  }
}
