// content_by_lua entry of GET /lp?key=a,b&timeout=120: long-poll. Parses the request and hands
// off to the stream core, which answers with the first batch or, at the timeout, an empty one.

import { fail, queryArg } from "../host/http";
import * as settingsHolder from "../host/settings";
import { parseTimeout } from "../protocol/longpoll";
import { poll } from "../stream/poll";
import { LongPollBatch } from "../transport/longpoll";
import { failWith } from "./answer";
import { streamRequest, subscribeQuery } from "./request";

export function handle(): void {
  const settings = settingsHolder.get();
  const [args, channels] = subscribeQuery(settings);
  const [seconds, timeoutErr] = parseTimeout(queryArg(args, "timeout"), settings.longPollMaxSeconds);
  if (seconds === undefined) {
    return fail(400, timeoutErr);
  }
  const failure = poll(streamRequest(settings, channels, args), new LongPollBatch(), settings, seconds * 1000);
  if (failure !== undefined) {
    failWith(settings, failure);
  }
}
