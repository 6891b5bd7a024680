// Every Pushgate setting, declared and validated in one place. Pure logic: the launcher (Node)
// checks the environment and config file with it before anything starts, and nginx's
// init_by_lua checks the same settings again with the same code compiled to Lua.

import { isDigits } from "../protocol/ascii";
import { isValidChannel } from "../protocol/channel";

export type Mode = "direct" | "shared";
export type LineFormat = "object" | "array";
export type OverflowPolicy = "disconnect" | "drop-oldest";

/** How much history a channel keeps: the last rule whose pattern matches the channel applies. */
export interface HistoryRule {
  /** A channel name, the start of one followed by `*`, or `*` alone. */
  pattern: string;
  /** Messages kept at most (the stream's MAXLEN). */
  length: number;
  /** Seconds a message is kept at most; 0: no age bound. */
  seconds: number;
}

export interface RedisAddress {
  host: string;
  port: number;
  db: number;
  password?: string;
  url: string;
}

export interface Settings {
  listen: string[];
  redisUrl: string;
  redis: RedisAddress[];
  workers: string;
  mode: Mode;
  heartbeatSeconds: number;
  maxChannels: number;
  maxMessageBytes: number;
  format: LineFormat;
  sourceAddresses: string[];
  workerConnections: number;
  workerRlimitNofile: number;
  redisTimeoutMs: number;
  retryAfterSeconds: number;
  logLevel: string;
  runtimeDir: string;
  queueMessages: number;
  queueBytes: number;
  overflow: OverflowPolicy;
  /** Origins allowed to read responses from a browser (CORS): a list, ["*"], or empty for none. */
  corsOrigins: string[];
  corsCredentials: boolean;
  longPollMaxSeconds: number;
  history: HistoryRule[];
  idempotencySeconds: number;
  /** Grants are required when set: HS256 secret of subscriber and publisher tokens. */
  jwtSecret: string;
  jwtPreviousSecret: string;
  jwtLeewaySeconds: number;
  jwtMaxBytes: number;
  publisherKey: string;
  authCookie: string;
  publishRatePerSecond: number;
  maxConnectionsPerUser: number;
}

/** One setting: its name in a config file, its environment variable, default and rule. */
export interface SettingRule {
  key: string;
  env: string;
  defaultValue: string;
  rule: string;
  doc: string;
}

export const SETTINGS: SettingRule[] = [
  { key: "listen", env: "PUSHGATE_LISTEN", defaultValue: "127.0.0.1:8080", rule: "comma-separated host:port or port", doc: "addresses nginx listens on" },
  {
    key: "redisUrl",
    env: "PUSHGATE_REDIS_URL",
    defaultValue: "",
    rule: "comma-separated redis://[:password@]host[:port][/db]",
    doc: "Redis to use; empty: the launcher uses 127.0.0.1:6379, starting a Redis there if none answers. Several addresses must reach the same pub/sub (one Redis on several addresses, or a primary and its replicas); /pub publishes to the first",
  },
  { key: "workers", env: "PUSHGATE_WORKERS", defaultValue: "auto", rule: "auto or an integer from 1 to 64", doc: "nginx worker processes" },
  {
    key: "mode",
    env: "PUSHGATE_MODE",
    defaultValue: "shared",
    rule: "direct or shared",
    doc: "subscription mode: shared holds one Redis connection per worker, direct one per stream",
  },
  {
    key: "heartbeatSeconds",
    env: "PUSHGATE_HEARTBEAT_SECONDS",
    defaultValue: "25",
    rule: "a number from 0.05 to 300",
    doc: "an idle stream gets a keep-alive this often",
  },
  { key: "maxChannels", env: "PUSHGATE_MAX_CHANNELS", defaultValue: "16", rule: "an integer from 1 to 1024", doc: "channels one connection may subscribe to" },
  {
    key: "maxMessageBytes",
    env: "PUSHGATE_MAX_MESSAGE_BYTES",
    defaultValue: "1048576",
    rule: "an integer from 1 to 67108864",
    doc: "largest message /pub accepts (larger: 413)",
  },
  {
    key: "format",
    env: "PUSHGATE_FORMAT",
    defaultValue: "object",
    rule: "object or array",
    doc: "default line shape of /sub (a request may pick with ?format=)",
  },
  {
    key: "sourceAddresses",
    env: "PUSHGATE_SOURCE_ADDRESSES",
    defaultValue: "",
    rule: "comma-separated IPv4 addresses",
    doc: "local addresses direct-mode Redis connections leave from, in turn (past ~60k per address)",
  },
  {
    key: "workerConnections",
    env: "PUSHGATE_WORKER_CONNECTIONS",
    defaultValue: "16384",
    rule: "an integer from 64 to 1048576",
    doc: "nginx worker_connections: client and Redis sockets per worker",
  },
  {
    key: "workerRlimitNofile",
    env: "PUSHGATE_WORKER_RLIMIT_NOFILE",
    defaultValue: "20000",
    rule: "an integer from 64 to 1048576",
    doc: "nginx worker_rlimit_nofile: open files per worker",
  },
  {
    key: "redisTimeoutMs",
    env: "PUSHGATE_REDIS_TIMEOUT_MS",
    defaultValue: "2000",
    rule: "an integer from 10 to 60000",
    doc: "connect and command timeout towards Redis",
  },
  {
    key: "retryAfterSeconds",
    env: "PUSHGATE_RETRY_AFTER_SECONDS",
    defaultValue: "2",
    rule: "an integer from 1 to 3600",
    doc: "Retry-After sent with a 503 when Redis is unreachable",
  },
  { key: "logLevel", env: "PUSHGATE_LOG_LEVEL", defaultValue: "warn", rule: "debug, info, notice, warn, error or crit", doc: "nginx error_log level" },
  {
    key: "queueMessages",
    env: "PUSHGATE_QUEUE_MESSAGES",
    defaultValue: "1000",
    rule: "an integer from 1 to 1000000",
    doc: "shared mode: messages waiting for one slow client before the overflow policy applies",
  },
  {
    key: "queueBytes",
    env: "PUSHGATE_QUEUE_BYTES",
    defaultValue: "8388608",
    rule: "an integer from 1024 to 1073741824",
    doc: "shared mode: bytes of messages waiting for one slow client before the overflow policy applies",
  },
  {
    key: "history",
    env: "PUSHGATE_HISTORY",
    defaultValue: "*=1000/86400",
    rule: "comma-separated pattern=length/seconds (pattern: a channel, prefix* or *; length 1-1000000; seconds 0-31536000, 0: no age bound); the last matching rule applies",
    doc: "how many messages, and for how long, each channel keeps for resume and inboxes",
  },
  {
    key: "idempotencySeconds",
    env: "PUSHGATE_IDEMPOTENCY_SECONDS",
    defaultValue: "86400",
    rule: "an integer from 1 to 31536000",
    doc: "how long a publish's Idempotency-Key is remembered (a retry within it is stored once)",
  },
  {
    key: "jwtSecret",
    env: "PUSHGATE_JWT_SECRET",
    defaultValue: "",
    rule: "empty, or at least 32 bytes",
    doc: "set: every subscribe needs a token (HS256 JWT) granting its channels, and /pub a publisher credential; empty: no auth (a loud warning at start)",
  },
  {
    key: "jwtPreviousSecret",
    env: "PUSHGATE_JWT_PREVIOUS_SECRET",
    defaultValue: "",
    rule: "empty, or at least 32 bytes, different from jwtSecret, only with it",
    doc: "also accepted while tokens signed with it may remain (secret rotation)",
  },
  {
    key: "jwtLeewaySeconds",
    env: "PUSHGATE_JWT_LEEWAY_SECONDS",
    defaultValue: "30",
    rule: "an integer from 0 to 300",
    doc: "clock skew allowed on exp and nbf",
  },
  { key: "jwtMaxBytes", env: "PUSHGATE_JWT_MAX_BYTES", defaultValue: "8192", rule: "an integer from 512 to 8192", doc: "longest token accepted" },
  {
    key: "publisherKey",
    env: "PUSHGATE_PUBLISHER_KEY",
    defaultValue: "",
    rule: "empty, or at least 32 bytes",
    doc: "a key backends send as Authorization: Bearer <key> to POST /pub (besides tokens with a publish claim)",
  },
  {
    key: "authCookie",
    env: "PUSHGATE_AUTH_COOKIE",
    defaultValue: "pushgate_token",
    rule: "1 to 64 characters of A-Z a-z 0-9 _ -",
    doc: "cookie that may carry the token",
  },
  {
    key: "publishRatePerSecond",
    env: "PUSHGATE_PUBLISH_RATE",
    defaultValue: "1000",
    rule: "an integer from 0 to 1000000 (0: no limit)",
    doc: "publishes per second per credential (token subject, publisher key, or client address without auth); more: 429",
  },
  {
    key: "maxConnectionsPerUser",
    env: "PUSHGATE_MAX_CONNECTIONS_PER_USER",
    defaultValue: "0",
    rule: "an integer from 0 to 1000000 (0: no limit)",
    doc: "concurrent streams one user (token subject) may hold; more: 429",
  },
  {
    key: "overflow",
    env: "PUSHGATE_OVERFLOW",
    defaultValue: "disconnect",
    rule: "disconnect or drop-oldest",
    doc: "what a full queue does: end the stream with a reason, or drop the oldest messages and send a notice",
  },
  {
    key: "corsOrigins",
    env: "PUSHGATE_CORS_ORIGINS",
    defaultValue: "",
    rule: "empty, * or comma-separated origins (http[s]://host[:port])",
    doc: "browser origins allowed to read /sub, /sse, /lp and /pub answers and to open /ws (CORS); empty: no CORS headers, /ws open to any origin",
  },
  {
    key: "corsCredentials",
    env: "PUSHGATE_CORS_CREDENTIALS",
    defaultValue: "false",
    rule: "true or false",
    doc: "let allowed origins send cookies and HTTP authentication (Access-Control-Allow-Credentials)",
  },
  {
    key: "longPollMaxSeconds",
    env: "PUSHGATE_LONG_POLL_MAX_SECONDS",
    defaultValue: "120",
    rule: "an integer from 1 to 3600",
    doc: "longest a long-poll waits (a larger ?timeout= is capped), and its default",
  },
  {
    key: "runtimeDir",
    env: "PUSHGATE_RUNTIME_DIR",
    defaultValue: "run",
    rule: "a directory path",
    doc: "where the launcher writes nginx.conf, logs and pid files",
  },
];

function integerIn(raw: string, min: number, max: number): number | undefined {
  if (!isDigits(raw) || raw.length > 10) {
    return undefined;
  }
  const n = Number(raw);
  return n >= min && n <= max ? n : undefined;
}

/** A decimal number (digits, an optional fraction) within [min, max]; undefined otherwise. */
export function numberIn(raw: string, min: number, max: number): number | undefined {
  const [whole, fraction, extra] = raw.split(".");
  if (extra !== undefined || !isDigits(whole) || (fraction !== undefined && !isDigits(fraction))) {
    return undefined;
  }
  const n = Number(raw);
  return n >= min && n <= max ? n : undefined;
}

/** Position of the last `ch` in `s`, or -1 (String.prototype.lastIndexOf has no Lua equivalent in TSTL). */
function lastIndexOfChar(s: string, ch: string): number {
  const code = ch.charCodeAt(0);
  for (let i = s.length - 1; i >= 0; i--) {
    if (s.charCodeAt(i) === code) {
      return i;
    }
  }
  return -1;
}

function list(raw: string): string[] {
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

function isHost(s: string): boolean {
  if (s.length === 0 || s.length > 253) {
    return false;
  }
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ok = (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 45 || c === 46;
    if (!ok) {
      return false;
    }
  }
  return true;
}

/** `host:port`, `[v6]:port`, `*:port` or `port`. */
function isListenAddress(s: string): boolean {
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

/** `http://host[:port]` or `https://host[:port]`, as a browser sends it in `Origin`. */
function isOrigin(s: string): boolean {
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

/** Parses `redis://[:password@]host[:port][/db]`. */
export function parseRedisUrl(url: string): LuaMultiReturn<[RedisAddress] | [undefined, string]> {
  const scheme = "redis://";
  if (!url.startsWith(scheme)) {
    return $multi(undefined, `"${url}" does not start with redis://`);
  }
  let rest = url.substring(scheme.length);
  let password: string | undefined;
  const at = lastIndexOfChar(rest, "@");
  if (at >= 0) {
    const userinfo = rest.substring(0, at);
    const colon = userinfo.indexOf(":");
    password = colon >= 0 ? userinfo.substring(colon + 1) : userinfo;
    rest = rest.substring(at + 1);
  }
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

/** A history pattern: a channel name, the start of one followed by `*`, or `*` alone. */
function isHistoryPattern(pattern: string): boolean {
  if (pattern === "*") {
    return true;
  }
  const name = pattern.endsWith("*") ? pattern.substring(0, pattern.length - 1) : pattern;
  return isValidChannel(name);
}

function parseHistoryRule(item: string): LuaMultiReturn<[HistoryRule] | [undefined, string]> {
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

function ruleOf(key: string): SettingRule {
  for (const rule of SETTINGS) {
    if (rule.key === key) {
      return rule;
    }
  }
  throw `no setting named ${key}`;
}

/**
 * Builds Settings from raw string values keyed by setting key (missing keys take the default).
 * Returns the settings, or undefined and a message naming the setting and the rule it broke.
 */
export function parseSettings(raw: Record<string, string | undefined>): LuaMultiReturn<[Settings] | [undefined, string]> {
  const value = (key: string): string => {
    const given = raw[key];
    return given !== undefined ? given.trim() : ruleOf(key).defaultValue;
  };
  const broken = (key: string, detail?: string): LuaMultiReturn<[undefined, string]> => {
    const rule = ruleOf(key);
    const why = detail !== undefined ? `${detail}; expected ${rule.rule}` : `expected ${rule.rule}, got "${value(key)}"`;
    return $multi(undefined, `invalid setting ${rule.env} (${rule.key}): ${why}`);
  };

  const listen = list(value("listen"));
  if (listen.length === 0) {
    return broken("listen");
  }
  for (const address of listen) {
    if (!isListenAddress(address)) {
      return broken("listen", `"${address}" is not an address`);
    }
  }

  const redisUrl = value("redisUrl");
  const redis: RedisAddress[] = [];
  for (const url of list(redisUrl)) {
    const [address, err] = parseRedisUrl(url);
    if (address === undefined) {
      return broken("redisUrl", err);
    }
    redis.push(address);
  }

  const workers = value("workers");
  if (workers !== "auto" && integerIn(workers, 1, 64) === undefined) {
    return broken("workers");
  }

  const mode = value("mode");
  if (mode !== "direct" && mode !== "shared") {
    return broken("mode");
  }
  const format = value("format");
  if (format !== "object" && format !== "array") {
    return broken("format");
  }
  const logLevel = value("logLevel");
  if (!["debug", "info", "notice", "warn", "error", "crit"].includes(logLevel)) {
    return broken("logLevel");
  }

  const heartbeatSeconds = numberIn(value("heartbeatSeconds"), 0.05, 300);
  if (heartbeatSeconds === undefined) {
    return broken("heartbeatSeconds");
  }
  const maxChannels = integerIn(value("maxChannels"), 1, 1024);
  if (maxChannels === undefined) {
    return broken("maxChannels");
  }
  const maxMessageBytes = integerIn(value("maxMessageBytes"), 1, 67108864);
  if (maxMessageBytes === undefined) {
    return broken("maxMessageBytes");
  }
  const workerConnections = integerIn(value("workerConnections"), 64, 1048576);
  if (workerConnections === undefined) {
    return broken("workerConnections");
  }
  const workerRlimitNofile = integerIn(value("workerRlimitNofile"), 64, 1048576);
  if (workerRlimitNofile === undefined) {
    return broken("workerRlimitNofile");
  }
  if (workerConnections > workerRlimitNofile) {
    return broken("workerConnections", `${workerConnections} is more than workerRlimitNofile (${workerRlimitNofile})`);
  }
  const redisTimeoutMs = integerIn(value("redisTimeoutMs"), 10, 60000);
  if (redisTimeoutMs === undefined) {
    return broken("redisTimeoutMs");
  }
  const retryAfterSeconds = integerIn(value("retryAfterSeconds"), 1, 3600);
  if (retryAfterSeconds === undefined) {
    return broken("retryAfterSeconds");
  }

  const sourceAddresses = list(value("sourceAddresses"));
  for (const address of sourceAddresses) {
    if (!isIPv4(address)) {
      return broken("sourceAddresses", `"${address}" is not an IPv4 address`);
    }
  }

  const queueMessages = integerIn(value("queueMessages"), 1, 1000000);
  if (queueMessages === undefined) {
    return broken("queueMessages");
  }
  const queueBytes = integerIn(value("queueBytes"), 1024, 1073741824);
  if (queueBytes === undefined) {
    return broken("queueBytes");
  }
  const overflow = value("overflow");
  if (overflow !== "disconnect" && overflow !== "drop-oldest") {
    return broken("overflow");
  }

  const history: HistoryRule[] = [];
  for (const item of list(value("history"))) {
    const [rule, ruleErr] = parseHistoryRule(item);
    if (rule === undefined) {
      return broken("history", ruleErr);
    }
    history.push(rule);
  }
  if (history.length === 0) {
    return broken("history");
  }
  const idempotencySeconds = integerIn(value("idempotencySeconds"), 1, 31536000);
  if (idempotencySeconds === undefined) {
    return broken("idempotencySeconds");
  }

  const jwtSecret = value("jwtSecret");
  if (jwtSecret.length > 0 && jwtSecret.length < 32) {
    return broken("jwtSecret", "the secret is shorter than 32 bytes");
  }
  const jwtPreviousSecret = value("jwtPreviousSecret");
  if (jwtPreviousSecret.length > 0 && (jwtPreviousSecret.length < 32 || jwtSecret.length === 0 || jwtPreviousSecret === jwtSecret)) {
    return broken("jwtPreviousSecret", "it must be at least 32 bytes, differ from jwtSecret, and come with it");
  }
  const jwtLeewaySeconds = integerIn(value("jwtLeewaySeconds"), 0, 300);
  if (jwtLeewaySeconds === undefined) {
    return broken("jwtLeewaySeconds");
  }
  const jwtMaxBytes = integerIn(value("jwtMaxBytes"), 512, 8192);
  if (jwtMaxBytes === undefined) {
    return broken("jwtMaxBytes");
  }
  const publisherKey = value("publisherKey");
  if (publisherKey.length > 0 && publisherKey.length < 32) {
    return broken("publisherKey", "the key is shorter than 32 bytes");
  }
  const authCookie = value("authCookie");
  if (
    authCookie.length < 1 ||
    authCookie.length > 64 ||
    !isValidChannel(authCookie) ||
    authCookie.includes(":") ||
    authCookie.includes(".") ||
    authCookie.includes("@") ||
    authCookie.includes("/")
  ) {
    return broken("authCookie");
  }
  const publishRatePerSecond = integerIn(value("publishRatePerSecond"), 0, 1000000);
  if (publishRatePerSecond === undefined) {
    return broken("publishRatePerSecond");
  }
  const maxConnectionsPerUser = integerIn(value("maxConnectionsPerUser"), 0, 1000000);
  if (maxConnectionsPerUser === undefined) {
    return broken("maxConnectionsPerUser");
  }

  const runtimeDir = value("runtimeDir");
  if (runtimeDir.length === 0) {
    return broken("runtimeDir");
  }

  const corsOrigins = list(value("corsOrigins"));
  for (const origin of corsOrigins) {
    if (origin === "*" ? corsOrigins.length > 1 : !isOrigin(origin)) {
      return broken("corsOrigins", `"${origin}" is not an origin, or * is not alone`);
    }
  }
  const corsCredentials = value("corsCredentials");
  if (corsCredentials !== "true" && corsCredentials !== "false") {
    return broken("corsCredentials");
  }
  const longPollMaxSeconds = integerIn(value("longPollMaxSeconds"), 1, 3600);
  if (longPollMaxSeconds === undefined) {
    return broken("longPollMaxSeconds");
  }

  return $multi({
    listen,
    redisUrl,
    redis,
    workers,
    mode,
    heartbeatSeconds,
    maxChannels,
    maxMessageBytes,
    format,
    sourceAddresses,
    workerConnections,
    workerRlimitNofile,
    redisTimeoutMs,
    retryAfterSeconds,
    logLevel,
    runtimeDir,
    queueMessages,
    queueBytes,
    overflow,
    history,
    idempotencySeconds,
    jwtSecret,
    jwtPreviousSecret,
    jwtLeewaySeconds,
    jwtMaxBytes,
    publisherKey,
    authCookie,
    publishRatePerSecond,
    maxConnectionsPerUser,
    corsOrigins,
    corsCredentials: corsCredentials === "true",
    longPollMaxSeconds,
  });
}

/** The settings back as raw values (what parseSettings reads), e.g. for nginx.conf. */
export function toRaw(settings: Settings): Record<string, string> {
  const values = settings as unknown as Record<string, unknown>;
  const raw: Record<string, string> = {};
  for (const rule of SETTINGS) {
    const v = values[rule.key];
    if (rule.key === "history") {
      raw[rule.key] = settings.history.map((h) => `${h.pattern}=${h.length}/${h.seconds}`).join(",");
    } else if (Array.isArray(v)) {
      raw[rule.key] = (v as string[]).join(",");
    } else {
      raw[rule.key] = `${v}`;
    }
  }
  return raw;
}

/**
 * Merges the three sources of raw values, later winning: defaults < config file < environment.
 * A config-file key that names no setting is an error (a typo must not pass silently).
 */
export function mergeSources(
  file: Record<string, unknown> | undefined,
  env: Record<string, string | undefined>,
): LuaMultiReturn<[Record<string, string | undefined>] | [undefined, string]> {
  const raw: Record<string, string | undefined> = {};
  if (file !== undefined) {
    for (const key of Object.keys(file)) {
      const known = SETTINGS.some((rule) => rule.key === key);
      if (!known) {
        return $multi(undefined, `unknown setting "${key}" in the config file`);
      }
      const v = file[key];
      if (typeof v === "string") {
        raw[key] = v;
      } else if (typeof v === "number" || typeof v === "boolean") {
        raw[key] = `${v}`;
      } else if (Array.isArray(v)) {
        raw[key] = v.join(",");
      } else {
        return $multi(undefined, `invalid setting ${key} in the config file: expected a string, number or list`);
      }
    }
  }
  for (const rule of SETTINGS) {
    const v = env[rule.env];
    if (v !== undefined) {
      raw[rule.key] = v;
    }
  }
  return $multi(raw);
}
