// Channel names: what a subscriber may ask for and a publisher may publish to.
// Pure logic, compiled to Lua for nginx and run by Node for the launcher, the SDK and jest.

export const CHANNEL_MAX_BYTES = 128;
export const CHANNEL_RULE = "1 to 128 characters of A-Z a-z 0-9 _ - . : @ /";

/** True when `name` is a valid channel name: 1..128 bytes of [A-Za-z0-9_.:@/-]. */
export function isValidChannel(name: string): boolean {
  const length = name.length;
  if (length < 1 || length > CHANNEL_MAX_BYTES) {
    return false;
  }
  for (let i = 0; i < length; i++) {
    const c = name.charCodeAt(i);
    const ok =
      (c >= 97 && c <= 122) || // a-z
      (c >= 65 && c <= 90) || // A-Z
      (c >= 48 && c <= 58) || // 0-9 and ':'
      c === 95 || // _
      c === 45 || // -
      c === 46 || // .
      c === 64 || // @
      c === 47; // /
    if (!ok) {
      return false;
    }
  }
  return true;
}

/**
 * Parses a comma-separated channel list (`a,b,c`). Duplicates are dropped, order is kept.
 * Returns the channels, or undefined and a message fit for a 400 answer.
 */
export function parseChannelList(raw: string, maxChannels: number): LuaMultiReturn<[string[]] | [undefined, string]> {
  if (raw.length === 0) {
    return $multi(undefined, "no channel given: use ?key=<channel>[,<channel>...]");
  }
  const parts = raw.split(",");
  const channels: string[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < parts.length; i++) {
    const name = parts[i];
    if (!isValidChannel(name)) {
      return $multi(undefined, `invalid channel name at position ${i + 1}: a name is ${CHANNEL_RULE}`);
    }
    if (!seen.has(name)) {
      seen.add(name);
      channels.push(name);
    }
  }
  if (channels.length > maxChannels) {
    return $multi(undefined, `too many channels: ${channels.length} given, at most ${maxChannels} per connection`);
  }
  return $multi(channels);
}
