// content_by_lua entry of GET /sub: chunked JSON lines. Parses the request and hands off to the
// stream core (src/stream.ts).

import { parseChannelList } from "./protocol/channel";
import { fail, queryArg } from "./host/http";
import * as settingsHolder from "./host/settings";
import { serve } from "./stream";
import { ChunkedTransport } from "./transport/chunked";

export function handle(): void {
  const settings = settingsHolder.get();
  const [args] = ngx.req.get_uri_args(64);

  const [channels, channelErr] = parseChannelList(queryArg(args, "key") ?? "", settings.maxChannels);
  if (channels === undefined) {
    return fail(400, channelErr);
  }
  const format = queryArg(args, "format") ?? settings.format;
  if (format !== "object" && format !== "array") {
    return fail(400, `invalid format "${format}": use object or array`);
  }
  serve(channels, new ChunkedTransport(format), settings);
}
