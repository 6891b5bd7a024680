// Backend auth (PUSHGATE_AUTH_URL): a connection without a token is granted by the app. An nginx
// subrequest to the internal location /_pushgate/auth (nginx.conf proxies it to the URL, with the
// client's Cookie and Authorization headers) carries `?channels=a,b`; the app answers 200 with a
// grant (auth/appgrant.ts), or 401/403, which the client receives as they are. Anything else
// (connection refused, a timeout, a 5xx, a grant that does not parse) is `unavailable` (503 with
// Retry-After): never an open door. 200, 401 and 403 answers are cached in the shared dict
// `pushgate_auth` for PUSHGATE_AUTH_CACHE_SECONDS per credential and channels.

import type { Settings } from "../config/schema";
import { appGrantOf } from "../auth/appgrant";
import { firstRefused } from "../auth/grant";
import { decodeJson, hmacSha256 } from "../host/crypto";
import { Failure, failure } from "../protocol/failure";
import type { Credentials, Identity } from "./access";

const LOCATION = "/_pushgate/auth";
const DICT = "pushgate_auth";
const CACHE_KEY_SALT = "pushgate backend auth cache";

/** The app's answer: its status and body, from the cache or a subrequest; undefined: unreachable. */
function answerOf(settings: Settings, credentials: Credentials, channels: string): LuaMultiReturn<[number, string] | [undefined, string]> {
  const dict = ngx.shared.get(DICT);
  // SHA-256, not MD5: a key must not be forgeable into another user's cached grant.
  const key = hmacSha256(CACHE_KEY_SALT, `${credentials.cookie ?? ""}\n${credentials.authorization ?? ""}\n${credentials.token ?? ""}\n${channels}`);
  if (dict !== undefined && settings.authCacheSeconds > 0) {
    const [cached] = dict.get(key);
    if (typeof cached === "string") {
      const newline = cached.indexOf("\n");
      return $multi(Number(cached.substring(0, newline)), cached.substring(newline + 1));
    }
  }
  const answer = ngx.location.capture(LOCATION, { method: ngx.HTTP_GET, args: { channels } });
  const status = answer.status;
  if (answer.truncated || (status !== 200 && status !== 401 && status !== 403)) {
    return $multi(undefined, `the app answered ${status}`);
  }
  if (dict !== undefined && settings.authCacheSeconds > 0) {
    dict.set(key, `${status}\n${answer.body}`, settings.authCacheSeconds);
  }
  return $multi(status, answer.body);
}

/** The `error` of a JSON refusal body, or `fallback`. */
function refusalMessage(body: string, fallback: string): string {
  const [decoded] = decodeJson(body);
  if (typeof decoded === "object" && decoded !== null) {
    const message = (decoded as Record<string, unknown>).error;
    if (typeof message === "string" && message.length > 0) {
      return message;
    }
  }
  return fallback;
}

function unavailable(why: string): LuaMultiReturn<[undefined, Failure]> {
  ngx.log(ngx.ERR, "pushgate: backend auth failed: ", why);
  return $multi(undefined, failure("unavailable", "the app's auth is unavailable, try again later"));
}

/** The identity the app grants for `channels`: unauthorized and forbidden as it says, unavailable when it cannot say. */
export function askBackend(settings: Settings, credentials: Credentials, channels: string[]): LuaMultiReturn<[Identity] | [undefined, Failure]> {
  const [status, body] = answerOf(settings, credentials, channels.join(","));
  if (status === undefined) {
    return unavailable(body);
  }
  if (status === 401) {
    return $multi(undefined, failure("unauthorized", refusalMessage(body, "the app refused the credentials")));
  }
  if (status === 403) {
    return $multi(undefined, failure("forbidden", refusalMessage(body, "the app does not grant these channels")));
  }
  const [decoded] = decodeJson(body);
  const [grant, err] = appGrantOf(decoded);
  if (grant === undefined) {
    return unavailable(`the app's grant is not valid: ${err}`);
  }
  const refused = firstRefused(grant.channels, channels);
  if (refused !== undefined) {
    return $multi(undefined, failure("forbidden", `channel ${refused} is not granted by the app`));
  }
  return $multi({ user: grant.user, grants: grant.channels, expires: grant.expires, publish: grant.publish });
}
