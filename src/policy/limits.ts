// Limits kept in the shared dict every worker sees: publishes per second per credential, and
// streams per user.

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

/** Takes one of the user's stream slots; limited when the user holds the maximum already. */
export function openConnection(settings: Settings, user: string | undefined): LuaMultiReturn<[true] | [undefined, Failure]> {
  const dict = ngx.shared.get(DICT);
  const max = settings.maxConnectionsPerUser;
  if (max === 0 || user === undefined || dict === undefined) {
    return $multi(true);
  }
  const [count] = dict.incr(`conn:${user}`, 1, 0);
  if (count !== undefined && count > max) {
    dict.incr(`conn:${user}`, -1, 0);
    return $multi(undefined, failure("limited", `too many connections for this user: at most ${max}`));
  }
  return $multi(true);
}

/** Gives back the slot openConnection() took. */
export function closeConnection(settings: Settings, user: string | undefined): void {
  const dict = ngx.shared.get(DICT);
  if (settings.maxConnectionsPerUser !== 0 && user !== undefined && dict !== undefined) {
    dict.incr(`conn:${user}`, -1, 0);
  }
}
