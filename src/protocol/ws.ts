// The WebSocket protocol of `/ws`: control frames a client sends (checked here), and the JSON
// text frames the server sends. Pure: the caller decodes JSON and passes its runtime's JSON string
// encoder, so nginx and Node accept the same frames and build the same bytes.

import { CHANNEL_RULE, isValidChannel } from "./channel";
import { isValidEvent } from "./envelope";
import type { QuoteJson } from "./frame";
import { isValidIdempotencyKey } from "./keys";

/** Close codes (RFC 6455 section 7.4 and the IANA registry). */
export const CLOSE_NORMAL = 1000;
export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_PROTOCOL_ERROR = 1002;
export const CLOSE_INVALID_DATA = 1007;
export const CLOSE_POLICY = 1008;
export const CLOSE_TOO_BIG = 1009;
export const CLOSE_INTERNAL = 1011;
export const CLOSE_RESTART = 1012;

/** Longest `ref` a client may attach to a control frame (bytes), when it is a string. */
export const REF_MAX_BYTES = 128;
/**
 * A numeric `ref` is an integer below 10^14 in magnitude: every such number prints the same in
 * JavaScript and in LuaJIT (whose tostring keeps 14 significant digits), so it is echoed exactly.
 */
export const REF_MAX_NUMBER = 99999999999999;

/** What a client attaches to a control frame to match the answer: echoed with its JSON type. */
export type Ref = string | number | undefined;
/** Longest message id (`ack`) and cursor (`hello`) accepted (bytes). */
export const ID_MAX_BYTES = 64;
export const CURSOR_MAX_BYTES = 4096;

export type Control =
  | { type: "subscribe" | "unsubscribe"; channels: string[]; ref: Ref }
  | { type: "ping"; ref: Ref }
  | { type: "publish"; channel: string; data: string; event: string | undefined; idempotencyKey: string | undefined; ref: Ref }
  | { type: "ack"; channel: string; id: string; ref: Ref }
  | { type: "hello"; cursor: string | undefined; cursors: Record<string, string> | undefined; ref: Ref }
  | { type: "refresh"; token: string; ref: Ref };

type Parsed = LuaMultiReturn<[Control] | [undefined, string, Ref]>;

const SHAPE = 'a control frame is a JSON object with a "type": subscribe, unsubscribe, ping, publish, ack, hello or refresh';

function isObject(value: unknown): value is Record<string, unknown> {
  // In Lua an empty JSON object decodes like an empty array: both are refused as "not an object".
  return typeof value === "object" && value !== null && !Array.isArray(value) && Object.keys(value as object).length > 0;
}

/** The channel list of subscribe/unsubscribe: non-empty, valid names, duplicates dropped. */
function channelList(value: unknown, maxChannels: number): LuaMultiReturn<[string[]] | [undefined, string]> {
  if (!Array.isArray(value) || value.length === 0) {
    return $multi(undefined, '"channels" must be a non-empty array of channel names');
  }
  const items = value as unknown[];
  if (items.length > maxChannels) {
    return $multi(undefined, `too many channels: ${items.length} given, at most ${maxChannels} per connection`);
  }
  const channels: string[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < items.length; i++) {
    const name = items[i];
    if (typeof name !== "string" || !isValidChannel(name)) {
      return $multi(undefined, `invalid channel name at position ${i + 1}: a name is ${CHANNEL_RULE}`);
    }
    if (!seen.has(name)) {
      seen.add(name);
      channels.push(name);
    }
  }
  return $multi(channels);
}

function channelField(frame: Record<string, unknown>): string | undefined {
  const channel = frame.channel;
  return typeof channel === "string" && isValidChannel(channel) ? channel : undefined;
}

const REF_RULE = `"ref" must be a string of at most ${REF_MAX_BYTES} bytes or an integer of at most 14 digits`;

/** Whether a frame's `ref` is absent, a short string, or an integer of at most 14 digits. */
function isValidRef(raw: unknown): raw is Ref {
  if (raw === undefined) {
    return true;
  }
  if (typeof raw === "string") {
    return raw.length <= REF_MAX_BYTES;
  }
  return typeof raw === "number" && Math.floor(raw) === raw && raw >= -REF_MAX_NUMBER && raw <= REF_MAX_NUMBER;
}

/**
 * Checks a decoded control frame. Returns the command, or undefined, a message for an error frame
 * and the frame's `ref` (when it had a valid one, so the error can be matched to the request).
 */
export function parseControl(value: unknown, maxChannels: number): Parsed {
  if (!isObject(value)) {
    return $multi(undefined, SHAPE, undefined);
  }
  const rawRef = value.ref;
  if (!isValidRef(rawRef)) {
    return $multi(undefined, REF_RULE, undefined);
  }
  // -0 is echoed as 0, as JavaScript prints it (LuaJIT would print -0)
  const ref = rawRef === 0 ? 0 : rawRef;
  const kind = value.type;
  if (kind === "subscribe" || kind === "unsubscribe") {
    const [channels, err] = channelList(value.channels, maxChannels);
    if (channels === undefined) {
      return $multi(undefined, `${kind}: ${err}`, ref);
    }
    return $multi({ type: kind, channels, ref });
  }
  if (kind === "ping") {
    return $multi({ type: "ping", ref });
  }
  if (kind === "publish") {
    const channel = channelField(value);
    if (channel === undefined) {
      return $multi(undefined, `publish: "channel" must be a channel name: ${CHANNEL_RULE}`, ref);
    }
    const data = value.data;
    if (typeof data !== "string") {
      return $multi(undefined, 'publish: "data" must be a string', ref);
    }
    const event = value.event;
    if (event !== undefined && (typeof event !== "string" || !isValidEvent(event))) {
      return $multi(undefined, 'publish: "event" must be 1 to 64 characters of A-Z a-z 0-9 _ - . :', ref);
    }
    const key = value.idempotencyKey;
    if (key !== undefined && (typeof key !== "string" || !isValidIdempotencyKey(key))) {
      return $multi(undefined, 'publish: "idempotencyKey" must be 1 to 128 visible ASCII characters', ref);
    }
    return $multi({ type: "publish", channel, data, event: event as string | undefined, idempotencyKey: key as string | undefined, ref });
  }
  if (kind === "ack") {
    const channel = channelField(value);
    if (channel === undefined) {
      return $multi(undefined, `ack: "channel" must be a channel name: ${CHANNEL_RULE}`, ref);
    }
    const id = value.id;
    if (typeof id !== "string" || id.length === 0 || id.length > ID_MAX_BYTES) {
      return $multi(undefined, `ack: "id" must be a message id (a string of 1 to ${ID_MAX_BYTES} bytes)`, ref);
    }
    return $multi({ type: "ack", channel, id, ref });
  }
  if (kind === "hello") {
    return parseHello(value, ref);
  }
  if (kind === "refresh") {
    return parseRefresh(value, ref);
  }
  if (typeof kind === "string") {
    return $multi(undefined, `unknown type: ${SHAPE}`, ref);
  }
  return $multi(undefined, SHAPE, ref);
}

/** hello: a compound `cursor` as the stream hands it out, and/or `cursors` by channel. */
function parseHello(frame: Record<string, unknown>, ref: Ref): Parsed {
  const cursor = frame.cursor;
  if (cursor !== undefined && (typeof cursor !== "string" || cursor.length === 0 || cursor.length > CURSOR_MAX_BYTES)) {
    return $multi(undefined, `hello: "cursor" must be a string of 1 to ${CURSOR_MAX_BYTES} bytes`, ref);
  }
  const rawCursors = frame.cursors;
  let cursors: Record<string, string> | undefined;
  if (rawCursors !== undefined) {
    if (!isObject(rawCursors)) {
      return $multi(undefined, 'hello: "cursors" must be an object of channel name to message id', ref);
    }
    cursors = {};
    for (const channel of Object.keys(rawCursors)) {
      const id = rawCursors[channel];
      if (!isValidChannel(channel) || typeof id !== "string" || id.length === 0 || id.length > ID_MAX_BYTES) {
        return $multi(undefined, 'hello: "cursors" must be an object of channel name to message id', ref);
      }
      cursors[channel] = id;
    }
  }
  if (cursor === undefined && cursors === undefined) {
    return $multi(undefined, 'hello: give "cursor" or "cursors"', ref);
  }
  return $multi({ type: "hello", cursor: cursor as string | undefined, cursors, ref });
}

function refField(ref: Ref, quote: QuoteJson): string {
  if (ref === undefined) {
    return "";
  }
  return typeof ref === "number" ? `,"ref":${ref}` : `,"ref":${quote(ref)}`;
}

/**
 * A message, the same object as a /sub line (frame.ts, format object):
 * {"type":"message","channel":"a","id":"...","event":"...","cursor":"...","data":"..."}. A durable
 * message has its id, its event name when it has one, and on several channels the compound
 * cursor to resume from after it; a plain PUBLISH has none of them.
 */
export function messageFrame(
  channel: string,
  data: string,
  id: string | undefined,
  event: string | undefined,
  cursor: string | undefined,
  quote: QuoteJson,
): string {
  if (id === undefined) {
    return `{"type":"message","channel":${quote(channel)},"data":${quote(data)}}`;
  }
  const eventField = event !== undefined ? `,"event":${quote(event)}` : "";
  const cursorField = cursor !== undefined ? `,"cursor":${quote(cursor)}` : "";
  return `{"type":"message","channel":${quote(channel)},"id":${quote(id)}${eventField}${cursorField},"data":${quote(data)}}`;
}

/** {"type":"notice","notice":"redis-lost","message":"..."}: the connection goes on. */
export function noticeFrame(code: string, message: string, quote: QuoteJson): string {
  return `{"type":"notice","notice":${quote(code)},"message":${quote(message)}}`;
}

/** {"type":"error","error":"...","ref":"..."}: a control frame was refused; the connection goes on. */
export function errorFrame(message: string, ref: Ref, quote: QuoteJson): string {
  return `{"type":"error","error":${quote(message)}${refField(ref, quote)}}`;
}

/** {"type":"pong"}, with the ping's ref. */
export function pongFrame(ref: Ref, quote: QuoteJson): string {
  return `{"type":"pong"${refField(ref, quote)}}`;
}

/** {"type":"subscribed","channels":["a","b"]} (or "unsubscribed"): what the connection changed. */
export function channelsFrame(kind: "subscribed" | "unsubscribed" | "resumed", channels: string[], ref: Ref, quote: QuoteJson): string {
  const names: string[] = [];
  for (const channel of channels) {
    names.push(quote(channel));
  }
  return `{"type":"${kind}","channels":[${names.join(",")}]${refField(ref, quote)}}`;
}

/** {"type":"published","channel":"a","id":"...","subscribers":1}, as POST /pub answers. */
/** The answer to an ack: the user's read position on the channel after it. */
export function ackedFrame(channel: string, read: string, ref: Ref, quote: QuoteJson): string {
  return `{"type":"acked","channel":${quote(channel)},"read":${quote(read)}${refField(ref, quote)}}`;
}

export function publishedFrame(channel: string, id: string, subscribers: number, duplicate: boolean, ref: Ref, quote: QuoteJson): string {
  const duplicateField = duplicate ? ',"duplicate":true' : "";
  return `{"type":"published","channel":${quote(channel)},"id":${quote(id)},"subscribers":${subscribers}${duplicateField}${refField(ref, quote)}}`;
}

/** Longest token a refresh frame may carry (bytes); the verifier applies its own limit too. */
export const REFRESH_TOKEN_MAX_BYTES = 8192;

/** refresh: a new token for the live connection. */
function parseRefresh(frame: Record<string, unknown>, ref: Ref): Parsed {
  const token = frame.token;
  if (typeof token !== "string" || token.length === 0 || token.length > REFRESH_TOKEN_MAX_BYTES) {
    return $multi(undefined, `refresh: "token" must be a string of 1 to ${REFRESH_TOKEN_MAX_BYTES} bytes`, ref);
  }
  return $multi({ type: "refresh", token, ref });
}

/** {"type":"refreshed","expires":1767225600}: the new token took over; `expires` is when the stream ends without another refresh. */
export function refreshedFrame(expires: number | undefined, ref: Ref, quote: QuoteJson): string {
  const expiresField = expires !== undefined ? `,"expires":${Math.floor(expires)}` : "";
  return `{"type":"refreshed"${expiresField}${refField(ref, quote)}}`;
}

/** {"type":"notice","notice":"revoked","channel":"a","message":"..."}: a refresh took the channel away (and unsubscribed it). */
export function revokedFrame(channel: string, quote: QuoteJson): string {
  const message = `channel ${channel} is no longer granted: unsubscribed`;
  return `{"type":"notice","notice":"revoked","channel":${quote(channel)},"message":${quote(message)}}`;
}
