// Limits kept in the shared dict every worker sees: publishes per second per credential. (The
// per-user connection cap and the connect rates count on all gateways: store/admission.ts.)

import type { Settings } from "../config/schema";
import { Failure, failure } from "../protocol/failure";

const DICT = "pushgate";

/** Counts a publish of `who` in the current second; limited when over PUSHGATE_PUBLISH_RATE. */
export function withinRate(settings: Settings, who: string): LuaMultiReturn<[true] | [undefined, Failure]> {
  const limit = settings.publishRatePerSecond;
  const dict = ngx.shared.get(DICT);
  if (limit === 0 || dict === undefined) {
    return $multi(true);
  }
  const [count] = dict.incr(`rate:${who}:${math.floor(ngx.now())}`, 1, 0, 2);
  if (count !== undefined && count > limit) {
    return $multi(undefined, failure("limited", `too many publishes: at most ${limit} per second per credential`));
  }
  return $multi(true);
}
