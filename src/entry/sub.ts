// content_by_lua entry of GET /sub: chunked JSON lines, or Server-Sent Events for a client that
// accepts text/event-stream. Parses the request and hands off to the stream core.

import { fail, queryArg, requestHeader } from "../host/http";
import * as settingsHolder from "../host/settings";
import { openUntilEnd } from "../stream/open";
import { streamTo } from "../stream/pump";
import { ChunkedTransport } from "../transport/chunked";
import { failWith } from "./answer";
import { streamRequest, subscribeQuery } from "./request";
import * as sseEntry from "./sse";

export function handle(): void {
  const accept = requestHeader("accept");
  if (accept !== undefined && string.find(accept, "text/event-stream", 1, true)[0] !== undefined) {
    return sseEntry.handle();
  }
  const settings = settingsHolder.get();
  const [args, channels] = subscribeQuery(settings);
  const format = queryArg(args, "format") ?? settings.format;
  if (format !== "object" && format !== "array") {
    return fail(400, `invalid format "${format}": use object or array`);
  }
  const [stream, failure] = openUntilEnd(settings, streamRequest(settings, channels, args));
  if (stream === undefined) {
    return failWith(settings, failure);
  }
  return streamTo(new ChunkedTransport(format), settings, stream); // a tail call (streamTo)
}
