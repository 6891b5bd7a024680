// content_by_lua entry of GET /sse (and of /sub asked for `Accept: text/event-stream`):
// Server-Sent Events. Parses the request and hands off to the stream core.

import { fail, queryArg } from "../host/http";
import * as settingsHolder from "../host/settings";
import { openUntilEnd } from "../stream/open";
import { streamTo } from "../stream/pump";
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
  const [stream, failure] = openUntilEnd(settings, streamRequest(settings, channels, args));
  if (stream === undefined) {
    return failWith(settings, failure);
  }
  // EventSource waits `retry` before it reconnects: as long as a 503 asks clients to wait.
  return streamTo(new SseTransport(format, settings.retryAfterSeconds * 1000), settings, stream); // a tail call (streamTo)
}
