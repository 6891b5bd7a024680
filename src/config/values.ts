// Parsers of single values (numbers, addresses, URLs, history rules): pure logic the checker
// (check.ts) applies to each setting, also used by other modules (numberIn, parseRedisUrl).

import { isDigits, numberIn } from "../protocol/ascii";
import { isValidChannel } from "../protocol/channel";
import type { HistoryRule, RedisAddress } from "./types";

export { numberIn };

/** A decimal integer (digits only, at most 10) within [min, max]; undefined otherwise. */
export function integerIn(raw: string, min: number, max: number): number | undefined {
  if (!isDigits(raw) || raw.length > 10) {
    return undefined;
  }
  const n = Number(raw);
  return n >= min && n <= max ? n : undefined;
}

/** Position of the last `ch` in `s`, or -1 (String.prototype.lastIndexOf has no Lua equivalent in TSTL). */
export function lastIndexOfChar(s: string, ch: string): number {
  const code = ch.charCodeAt(0);
  for (let i = s.length - 1; i >= 0; i--) {
    if (s.charCodeAt(i) === code) {
      return i;
    }
  }
  return -1;
}

/** The non-empty, trimmed items of a comma-separated list. */
export function list(raw: string): string[] {
  const items: string[] = [];
  for (const part of raw.split(",")) {
    const item = part.trim();
    if (item.length > 0) {
      items.push(item);
    }
  }
  return items;
}

/** An IPv4 address in dotted-quad form. */
export function isIPv4(s: string): boolean {
  const octets = s.split(".");
  if (octets.length !== 4) {
    return false;
  }
  for (const octet of octets) {
    if (integerIn(octet, 0, 255) === undefined || octet.length > 3) {
      return false;
    }
  }
  return true;
}

/** A host name or IPv4 address: 1 to 253 characters of A-Z a-z 0-9 - . */
export function isHost(s: string): boolean {
  return everyChar(s, 253, (c) => isAlnum(c) || c === 45 || c === 46);
}

function isAlnum(this: void, c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57);
}

/** 1 to `max` characters, each of them accepted by `accepts` (given its char code). */
function everyChar(s: string, max: number, accepts: (this: void, c: number) => boolean): boolean {
  if (s.length < 1 || s.length > max) {
    return false;
  }
  for (let i = 0; i < s.length; i++) {
    if (!accepts(s.charCodeAt(i))) {
      return false;
    }
  }
  return true;
}

/** 1 to `max` printable ASCII characters without space, comma, quote, semicolon, braces, `$` or `]` (safe in nginx.conf and the rendered settings). */
export function isPlainText(s: string, max: number): boolean {
  // 34 " 36 $ 39 ' 44 , 59 ; 93 ] 123 { 125 }
  return everyChar(s, max, (c) => c > 32 && c < 127 && c !== 34 && c !== 36 && c !== 39 && c !== 44 && c !== 59 && c !== 93 && c !== 123 && c !== 125);
}

/** An http:// or https:// URL with a host, as plain text (see isPlainText). */
export function isHttpUrl(s: string): boolean {
  const rest = s.startsWith("http://") ? s.substring(7) : s.startsWith("https://") ? s.substring(8) : "";
  return rest.length > 0 && !rest.startsWith("/") && isPlainText(s, 2048);
}

/** A PUSHGATE_JWT_PUBLIC_KEYS item: `path` or `kid=path`, with kid a name (A-Z a-z 0-9 _ -, 64 at most). */
export function isKeyFileItem(s: string): boolean {
  const equals = s.indexOf("=");
  if (equals < 0) {
    return isPlainText(s, 4096);
  }
  return isName(s.substring(0, equals), 64) && isPlainText(s.substring(equals + 1), 4096);
}

/** 1 to `max` characters of A-Z a-z 0-9 _ - (a cookie name). */
export function isName(s: string, max: number): boolean {
  return everyChar(s, max, (c) => isAlnum(c) || c === 95 || c === 45);
}

/** `host:port`, `[v6]:port`, `*:port` or `port`. */
export function isListenAddress(s: string): boolean {
  const colon = lastIndexOfChar(s, ":");
  const port = colon < 0 ? s : s.substring(colon + 1);
  if (integerIn(port, 1, 65535) === undefined) {
    return false;
  }
  if (colon < 0) {
    return true;
  }
  const host = s.substring(0, colon);
  if (host === "*") {
    return true;
  }
  if (host.startsWith("[") && host.endsWith("]")) {
    return host.length > 2;
  }
  return isHost(host);
}

/** `a.b.c.d:port`: an IPv4 address and a port. */
export function isIPv4Address(s: string): boolean {
  const colon = lastIndexOfChar(s, ":");
  return colon > 0 && isIPv4(s.substring(0, colon)) && integerIn(s.substring(colon + 1), 1, 65535) !== undefined;
}

/** `http://host[:port]` or `https://host[:port]`, as a browser sends it in `Origin`. */
export function isOrigin(s: string): boolean {
  const scheme = s.startsWith("https://") ? "https://" : s.startsWith("http://") ? "http://" : undefined;
  if (scheme === undefined) {
    return false;
  }
  const hostPort = s.substring(scheme.length);
  const colon = lastIndexOfChar(hostPort, ":");
  if (colon < 0) {
    return isHost(hostPort);
  }
  return isHost(hostPort.substring(0, colon)) && integerIn(hostPort.substring(colon + 1), 1, 65535) !== undefined;
}

/** Splits `[user:]password@rest` (the userinfo of a Redis URL): the password (or undefined), and the rest. */
function splitPassword(rest: string): LuaMultiReturn<[string | undefined, string]> {
  const at = lastIndexOfChar(rest, "@");
  if (at < 0) {
    return $multi(undefined, rest);
  }
  const userinfo = rest.substring(0, at);
  const colon = userinfo.indexOf(":");
  return $multi(colon >= 0 ? userinfo.substring(colon + 1) : userinfo, rest.substring(at + 1));
}

/** Parses `redis://[:password@]host[:port][/db]`. */
export function parseRedisUrl(url: string): LuaMultiReturn<[RedisAddress] | [undefined, string]> {
  const scheme = "redis://";
  if (!url.startsWith(scheme)) {
    return $multi(undefined, `"${url}" does not start with redis://`);
  }
  const [password, afterPassword] = splitPassword(url.substring(scheme.length));
  let rest = afterPassword;
  let db = 0;
  const slash = rest.indexOf("/");
  if (slash >= 0) {
    const dbText = rest.substring(slash + 1);
    rest = rest.substring(0, slash);
    if (dbText.length > 0) {
      const n = integerIn(dbText, 0, 15);
      if (n === undefined) {
        return $multi(undefined, `"${url}" has a database number outside 0..15`);
      }
      db = n;
    }
  }
  let port = 6379;
  const colon = lastIndexOfChar(rest, ":");
  let host = rest;
  if (colon >= 0) {
    const p = integerIn(rest.substring(colon + 1), 1, 65535);
    if (p === undefined) {
      return $multi(undefined, `"${url}" has a port outside 1..65535`);
    }
    port = p;
    host = rest.substring(0, colon);
  }
  if (!isHost(host)) {
    return $multi(undefined, `"${url}" has no valid host`);
  }
  return $multi({ host, port, db, password: password !== undefined && password.length > 0 ? password : undefined, url });
}

/** The scheme of a Redis Cluster setting: its seed nodes, comma-separated. */
export const CLUSTER_SCHEME = "redis+cluster://";

/**
 * Parses `redis+cluster://[:password@]host:port,host:port,...`: the seed nodes the store asks for
 * the slot map, each an address with `cluster` set (database 0: a cluster has no other).
 */
export function parseRedisClusterUrl(url: string): LuaMultiReturn<[RedisAddress[]] | [undefined, string]> {
  if (!url.startsWith(CLUSTER_SCHEME)) {
    return $multi(undefined, `"${url}" does not start with ${CLUSTER_SCHEME}`);
  }
  const [password, rest] = splitPassword(url.substring(CLUSTER_SCHEME.length));
  const seeds: RedisAddress[] = [];
  for (const item of list(rest)) {
    const colon = lastIndexOfChar(item, ":");
    const host = colon >= 0 ? item.substring(0, colon) : item;
    const port = colon >= 0 ? integerIn(item.substring(colon + 1), 1, 65535) : 6379;
    if (port === undefined || !isHost(host)) {
      return $multi(undefined, `"${item}" in "${url}" is not a host:port seed node`);
    }
    seeds.push({
      host,
      port,
      db: 0,
      password: password !== undefined && password.length > 0 ? password : undefined,
      url: `redis://${host}:${port}/0`,
      cluster: true,
    });
  }
  if (seeds.length === 0) {
    return $multi(undefined, `"${url}" names no seed node`);
  }
  return $multi(seeds);
}

/** The scheme of a Sentinel setting: the sentinels, comma-separated, then /<master name>. */
export const SENTINEL_SCHEME = "redis+sentinel://";

/**
 * Parses `redis+sentinel://[:password@]host:port,host:port/<master name>`: the sentinels to ask
 * for the primary named <master name> (the password is the data nodes').
 */
export function parseRedisSentinelUrl(url: string): LuaMultiReturn<[RedisAddress[]] | [undefined, string]> {
  const slash = lastIndexOfChar(url, "/");
  const name = url.substring(slash + 1);
  if (slash < SENTINEL_SCHEME.length || !isName(name, 64)) {
    return $multi(undefined, `"${url}" does not end with /<master name>`);
  }
  const [sentinels, err] = parseRedisClusterUrl(`${CLUSTER_SCHEME}${url.substring(SENTINEL_SCHEME.length, slash)}`);
  if (sentinels === undefined) {
    return $multi(undefined, `${err}`.split(CLUSTER_SCHEME).join(SENTINEL_SCHEME));
  }
  for (const sentinel of sentinels) {
    sentinel.cluster = undefined;
    sentinel.sentinel = name;
  }
  return $multi(sentinels);
}

/** A history pattern: a channel name, the start of one followed by `*`, or `*` alone. */
function isHistoryPattern(pattern: string): boolean {
  if (pattern === "*") {
    return true;
  }
  const name = pattern.endsWith("*") ? pattern.substring(0, pattern.length - 1) : pattern;
  return isValidChannel(name);
}

/** Parses one `pattern=length/seconds` history rule. */
export function parseHistoryRule(item: string): LuaMultiReturn<[HistoryRule] | [undefined, string]> {
  const eq = lastIndexOfChar(item, "=");
  const slash = lastIndexOfChar(item, "/");
  if (eq <= 0 || slash < eq) {
    return $multi(undefined, `"${item}" is not pattern=length/seconds`);
  }
  const pattern = item.substring(0, eq);
  const length = integerIn(item.substring(eq + 1, slash), 1, 1000000);
  const seconds = integerIn(item.substring(slash + 1), 0, 31536000);
  if (!isHistoryPattern(pattern) || length === undefined || seconds === undefined) {
    return $multi(undefined, `"${item}" is not pattern=length/seconds`);
  }
  return $multi({ pattern, length, seconds });
}

/** The history rule for `channel`: the last rule whose pattern matches it. */
export function historyRuleFor(rules: HistoryRule[], channel: string): HistoryRule | undefined {
  let found: HistoryRule | undefined;
  for (const rule of rules) {
    const pattern = rule.pattern;
    const matches = pattern.endsWith("*") ? channel.startsWith(pattern.substring(0, pattern.length - 1)) : pattern === channel;
    if (matches) {
      found = rule;
    }
  }
  return found;
}
