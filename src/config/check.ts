// The one checker of the settings table (table.ts): turns raw text into Settings, words each
// setting's rule from its kind and bounds (for error messages and README's table).

import { isValidChannel } from "../protocol/channel";
import { ItemKind, Setting, TABLE } from "./table";
import type { SettingRule, Settings } from "./types";
import {
  integerIn,
  isHttpUrl,
  isIPv4,
  isIPv4Address,
  isKeyFileItem,
  isListenAddress,
  isName,
  isOrigin,
  isPlainText,
  list,
  numberIn,
  parseHistoryRule,
  parseRedisClusterUrl,
  parseRedisSentinelUrl,
  parseRedisUrl,
  CLUSTER_SCHEME,
  SENTINEL_SCHEME,
} from "./values";

/** "a", "a or b", "a, b or c". */
function choices(words: string[]): string {
  if (words.length <= 1) {
    return words.join("");
  }
  return `${words.slice(0, words.length - 1).join(", ")} or ${words[words.length - 1]}`;
}

/** What the items of each kind of list are, in the plural, for the rule text. */
const ITEMS_TEXT: Record<ItemKind, string> = {
  listen: "addresses (host:port, [ipv6]:port, *:port or port)",
  ipv4: "IPv4 addresses",
  origin: "origins (http[s]://host[:port])",
  redis:
    "redis://[:password@]host[:port][/db] URLs, or one redis+cluster://[:password@]host:port,host:port,... (Redis Cluster seed nodes), or one redis+sentinel://[:password@]host:port,host:port/<master name>",
  pattern: "channel patterns (a channel, prefix* or *)",
  history:
    "pattern=length/seconds rules (pattern: a channel, prefix* or *; length 1-1000000; seconds 0-31536000, 0: no age bound); the last matching rule applies",
  keyfile: "PEM files (path, or kid=path with kid 1 to 64 of A-Z a-z 0-9 _ -)",
};

/** What an item that is not valid is not, in an error ("x" is not ...). */
const ITEM_NOUN: Record<ItemKind, string> = {
  listen: "an address",
  ipv4: "an IPv4 address",
  origin: "an origin, or * is not alone",
  redis: "a Redis URL",
  history: "a history rule",
  pattern: "a channel pattern",
  keyfile: "a key file (path or kid=path)",
};

/** The rule a setting's value must follow, in words. */
export function ruleText(setting: Setting): string {
  const min = setting.min ?? 0;
  const max = setting.max ?? 0;
  const kind = setting.kind;
  if (kind === "integer") {
    const range = `an integer from ${min} to ${max}${setting.zero !== undefined ? ` (0: ${setting.zero})` : ""}`;
    const bounded = setting.atMost !== undefined ? `${range}, at most ${setting.atMost}` : range;
    return setting.or !== undefined ? `${setting.or} or ${bounded}` : bounded;
  } else if (kind === "number") {
    return `a number from ${min} to ${max}`;
  } else if (kind === "choice") {
    return choices(setting.values ?? []);
  } else if (kind === "boolean") {
    return "true or false";
  } else if (kind === "secret") {
    return `empty, or at least ${min} bytes${setting.with !== undefined ? `, different from ${setting.with}, only with it` : ""}`;
  } else if (kind === "name") {
    return `1 to ${max} characters of A-Z a-z 0-9 _ -`;
  } else if (kind === "path") {
    return "a directory path";
  } else if (kind === "address") {
    return "an IPv4 address and port (a.b.c.d:port)";
  } else if (kind === "text") {
    return `empty, or 1 to ${max} printable ASCII characters without space , ; " ' $ ] { }`;
  } else if (kind === "url") {
    return "empty, or an http:// or https:// URL";
  }
  const alone: string[] = [];
  if (setting.empty === true) {
    alone.push("empty");
  }
  if (setting.star === true) {
    alone.push("*");
  }
  alone.push(`comma-separated ${ITEMS_TEXT[setting.item ?? "listen"]}`);
  return choices(alone);
}

/** A checked value: text, a number, a boolean, or a list of items. */
type Value = string | number | boolean | object;

/** True when `item` is a valid item of a list of `kind` (listen, ipv4, origin). */
function validItem(kind: ItemKind, item: string): boolean {
  if (kind === "listen") {
    return isListenAddress(item);
  } else if (kind === "ipv4") {
    return isIPv4(item);
  } else if (kind === "pattern") {
    return item === "*" || isValidChannel(item.endsWith("*") ? item.substring(0, item.length - 1) : item);
  } else if (kind === "keyfile") {
    return isKeyFileItem(item);
  }
  return isOrigin(item);
}

/** One item of a list setting: its value, or undefined and why not. */
function checkItem(setting: Setting, item: string): LuaMultiReturn<[Value] | [undefined, string]> {
  const kind = setting.item ?? "listen";
  if (kind === "redis") {
    return parseRedisUrl(item);
  } else if (kind === "history") {
    return parseHistoryRule(item);
  } else if (!validItem(kind, item)) {
    return $multi(undefined, `"${item}" is not ${ITEM_NOUN[kind]}`);
  }
  return $multi(item);
}

function checkList(setting: Setting, text: string): LuaMultiReturn<[Value[]] | [undefined, string?]> {
  if (setting.item === "redis" && text.startsWith(CLUSTER_SCHEME)) {
    return parseRedisClusterUrl(text);
  }
  if (setting.item === "redis" && text.startsWith(SENTINEL_SCHEME)) {
    return parseRedisSentinelUrl(text);
  }
  const items = list(text);
  if (items.length === 0 && setting.empty !== true) {
    return $multi(undefined);
  }
  if (setting.star === true && items.length === 1 && items[0] === "*") {
    return $multi(items);
  }
  const values: Value[] = [];
  for (const item of items) {
    const [value, err] = checkItem(setting, item);
    if (value === undefined) {
      return $multi(undefined, err);
    }
    values.push(value);
  }
  return $multi(values);
}

/** A single (not list) setting's value from its text; undefined when the text breaks the rule. */
function checkSingle(setting: Setting, text: string): Value | undefined {
  const min = setting.min ?? 0;
  const max = setting.max ?? 0;
  const kind = setting.kind;
  if (kind === "integer") {
    if (setting.or !== undefined && text === setting.or) {
      return text;
    }
    const n = integerIn(text, min, max);
    // with a word accepted too (workers: auto), the value stays text
    return n !== undefined && setting.or !== undefined ? text : n;
  } else if (kind === "number") {
    return numberIn(text, min, max);
  } else if (kind === "choice") {
    return (setting.values ?? []).includes(text) ? text : undefined;
  } else if (kind === "boolean") {
    return text === "true" || text === "false" ? text === "true" : undefined;
  } else if (kind === "secret") {
    return text.length === 0 || text.length >= min ? text : undefined;
  } else if (kind === "name") {
    return isName(text, max) ? text : undefined;
  } else if (kind === "path") {
    return text.length > 0 ? text : undefined;
  } else if (kind === "text") {
    return text.length === 0 || isPlainText(text, max) ? text : undefined;
  } else if (kind === "url") {
    return text.length === 0 || isHttpUrl(text) ? text : undefined;
  }
  return isIPv4Address(text) ? text : undefined;
}

/** A setting's value from its (trimmed) text; undefined and maybe a detail when the text breaks the rule. */
export function checkValue(setting: Setting, text: string): LuaMultiReturn<[Value] | [undefined, string?]> {
  if (setting.kind === "list") {
    return checkList(setting, text);
  }
  const value = checkSingle(setting, text);
  if (value === undefined && setting.kind === "secret") {
    return $multi(undefined, `the ${setting.noun ?? "value"} is shorter than ${setting.min ?? 0} bytes`);
  }
  if (value === undefined) {
    return $multi(undefined);
  }
  return $multi(value);
}

/** Rules between settings (atMost, with): a detail when `values` break one of `setting`. */
function checkRelation(setting: Setting, values: Record<string, Value>): string | undefined {
  if (setting.atMost !== undefined) {
    const value = values[setting.key] as number;
    const limit = values[setting.atMost] as number;
    if (value > limit) {
      return `${value} is more than ${setting.atMost} (${limit})`;
    }
  }
  if (setting.with !== undefined) {
    const value = values[setting.key] as string;
    const other = values[setting.with] as string;
    if (value.length > 0 && (other.length === 0 || value === other)) {
      return `it must be at least ${setting.min ?? 0} bytes, differ from ${setting.with}, and come with it`;
    }
  }
  return undefined;
}

function broken(setting: Setting, text: string, detail: string | undefined): LuaMultiReturn<[undefined, string]> {
  const why = detail !== undefined ? `${detail}; expected ${ruleText(setting)}` : `expected ${ruleText(setting)}, got "${text}"`;
  return $multi(undefined, `invalid setting ${setting.env} (${setting.key}): ${why}`);
}

/**
 * Builds Settings from raw string values keyed by setting key (missing keys take the default).
 * Returns the settings, or undefined and a message naming the setting and the rule it broke.
 */
export function parseSettings(raw: Record<string, string | undefined>): LuaMultiReturn<[Settings] | [undefined, string]> {
  const values: Record<string, Value> = {};
  const texts: Record<string, string> = {};
  for (const setting of TABLE) {
    const given = raw[setting.key];
    const text = given !== undefined ? given.trim() : setting.default;
    const [value, detail] = checkValue(setting, text);
    if (value === undefined) {
      return broken(setting, text, detail);
    }
    texts[setting.key] = text;
    if (setting.into !== undefined) {
      values[setting.key] = text;
      values[setting.into] = value;
    } else {
      values[setting.key] = value;
    }
  }
  for (const setting of TABLE) {
    const detail = checkRelation(setting, values);
    if (detail !== undefined) {
      return broken(setting, texts[setting.key], detail);
    }
  }
  const settings = values as unknown as Settings;
  if (settings.redis.length > 0 && (settings.redis[0].cluster === true || settings.redis[0].sentinel !== undefined) && settings.mode !== "shared") {
    return $multi(
      undefined,
      "invalid setting PUSHGATE_REDIS_URL (redisUrl): a redis+cluster:// or redis+sentinel:// URL needs PUSHGATE_MODE=shared (direct mode subscribes per client)",
    );
  }
  return $multi(settings);
}

/** The settings back as raw values (what parseSettings reads), e.g. for nginx.conf. */
export function toRaw(settings: Settings): Record<string, string> {
  const values = settings as unknown as Record<string, unknown>;
  const raw: Record<string, string> = {};
  for (const setting of TABLE) {
    const v = values[setting.key];
    if (setting.key === "history") {
      raw[setting.key] = settings.history.map((h) => `${h.pattern}=${h.length}/${h.seconds}`).join(",");
    } else if (Array.isArray(v)) {
      raw[setting.key] = (v as string[]).join(",");
    } else {
      raw[setting.key] = `${v as string}`;
    }
  }
  return raw;
}

/** Every setting as text: key, variable, default, rule (worded from the table) and meaning. */
export const SETTINGS: SettingRule[] = TABLE.map((setting) => ({
  key: setting.key,
  env: setting.env,
  defaultValue: setting.default,
  rule: ruleText(setting),
  doc: setting.doc,
}));
