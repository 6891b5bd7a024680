// The one publishing path, for POST /pub and the WebSocket publish frame alike: a publisher
// verified once (per request, or per WebSocket connection) is held to its grant and token expiry,
// the publish rate and the size limit, then the store keeps and sends the message.

import type { Settings } from "../config/schema";
import * as access from "../policy/access";
import * as limits from "../policy/limits";
import { Failure, failure } from "../protocol/failure";
import type { PublishOptions, Published } from "../protocol/published";
import * as messages from "../store/messages";

/**
 * Publishes `data` to `channel` (a valid name; `event` and `idempotencyKey` valid or undefined)
 * as `publisher`.
 */
export function publishAs(
  settings: Settings,
  publisher: access.Publisher,
  channel: string,
  data: string,
  options: PublishOptions,
): LuaMultiReturn<[Published] | [undefined, Failure]> {
  const [allowed, refusal] = access.mayPublish(publisher, channel);
  if (allowed === undefined) {
    return $multi(undefined, refusal);
  }
  const [within, limited] = limits.withinRate(settings, publisher.name);
  if (within === undefined) {
    return $multi(undefined, limited);
  }
  if (data.length > settings.maxMessageBytes) {
    return $multi(undefined, failure("too-large", `message too large: the limit is ${settings.maxMessageBytes} bytes`));
  }
  return messages.publish(settings, channel, data, options);
}
