// The grant an app gives in answer to backend auth (PUSHGATE_AUTH_URL): a JSON object
// `{"user":"u1","channels":["room:*"],"publish":["room:*"],"expires":1767225600}` where `user`
// is a non-empty string, `channels` (required) and `publish` (optional) are lists of channel
// patterns (grant.ts), and `expires` (optional) is when the grant ends, in seconds since the
// epoch. Pure logic, compiled to Lua and run by Node.

import { validatePatterns } from "./grant";

export interface AppGrant {
  user: string;
  channels: string[];
  publish: string[];
  expires: number | undefined;
}

/** The grant in a decoded answer, or undefined and what is wrong with it. */
export function appGrantOf(value: unknown): LuaMultiReturn<[AppGrant] | [undefined, string]> {
  if (typeof value !== "object" || value === null) {
    return $multi(undefined, "the answer is not a JSON object");
  }
  const answer = value as Record<string, unknown>;
  const user = answer.user;
  if (typeof user !== "string" || user.length === 0) {
    return $multi(undefined, "the answer's user must be a non-empty string");
  }
  const [channels, channelsErr] = validatePatterns(answer.channels, "the answer's channels");
  if (channels === undefined) {
    return $multi(undefined, channelsErr);
  }
  let publish: string[] = [];
  if (answer.publish !== undefined) {
    const [checked, publishErr] = validatePatterns(answer.publish, "the answer's publish");
    if (checked === undefined) {
      return $multi(undefined, publishErr);
    }
    publish = checked;
  }
  const expires = answer.expires;
  if (expires !== undefined && (typeof expires !== "number" || !Number.isFinite(expires))) {
    return $multi(undefined, "the answer's expires must be a number");
  }
  return $multi({ user, channels, publish, expires: expires as number | undefined });
}
