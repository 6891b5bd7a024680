// Channel grants: which channels a token lets its holder read (`channels` claim) or publish to
// (`publish` claim). A grant is a list of patterns; a pattern is an exact channel name
// (`user:42`), the start of a name followed by `*` (`room:*` matches every channel that starts
// with `room:`, `room:` itself included), or `*` alone (every channel). Pure logic, compiled to
// Lua for nginx and run by Node for the SDK and jest.

import { CHANNEL_RULE, isValidChannel } from "../protocol/channel";

export const PATTERN_RULE = `a channel name (${CHANNEL_RULE}), or the start of one followed by *, or * alone`;

const STAR = 42; // "*"

/** True when `pattern` is a channel name, a channel name followed by `*`, or `*`. */
export function isValidPattern(pattern: string): boolean {
  const last = pattern.length - 1;
  if (last >= 0 && pattern.charCodeAt(last) === STAR) {
    // isValidChannel refuses a `*`, so the star can only be the last character.
    return last === 0 || isValidChannel(pattern.substring(0, last));
  }
  return isValidChannel(pattern);
}

/**
 * Checks a grant decoded from JSON: a list of valid patterns (it may be empty).
 * `claim` names the list in the message. Returns the patterns, or undefined and a message fit
 * for a 401 answer.
 *
 * In Lua, cjson decodes `{}` and `[]` to the same empty table, so there an empty JSON object
 * where a list is expected reads as an empty list: a grant of nothing.
 */
export function validatePatterns(value: unknown, claim: string): LuaMultiReturn<[string[]] | [undefined, string]> {
  if (!Array.isArray(value)) {
    return $multi(undefined, `${claim} must be a list of channel patterns`);
  }
  const patterns = value as unknown[];
  for (let i = 0; i < patterns.length; i++) {
    const pattern = patterns[i];
    if (typeof pattern !== "string" || !isValidPattern(pattern)) {
      return $multi(undefined, `${claim} has an invalid pattern at position ${i + 1}: a pattern is ${PATTERN_RULE}`);
    }
  }
  return $multi(patterns as string[]);
}

/** True when `pattern` (valid) matches `channel`. Compares in place: no substring per check. */
function patternMatches(pattern: string, channel: string): boolean {
  const last = pattern.length - 1;
  if (pattern.charCodeAt(last) !== STAR) {
    return pattern === channel;
  }
  if (channel.length < last) {
    return false;
  }
  for (let i = 0; i < last; i++) {
    if (pattern.charCodeAt(i) !== channel.charCodeAt(i)) {
      return false;
    }
  }
  return true;
}

/** True when one of the (validated) `patterns` matches `channel`. */
export function grantAllows(patterns: string[], channel: string): boolean {
  for (const pattern of patterns) {
    if (patternMatches(pattern, channel)) {
      return true;
    }
  }
  return false;
}

/** The first of `channels` that no pattern matches (for a 403 that names it), or undefined. */
export function firstRefused(patterns: string[], channels: string[]): string | undefined {
  for (const channel of channels) {
    if (!grantAllows(patterns, channel)) {
      return channel;
    }
  }
  return undefined;
}
