// The envelope a durable publish (redis/pushgate.lua) sends through Redis pub/sub, so a live
// subscriber learns the message id and event name. A plain PUBLISH payload has no envelope and
// is delivered as it is, without an id. Layout (bytes):
//   "\x1ePG1\x1f" <id> "\x1f" <event> "\x1f" <data>
// ids and event names never contain \x1f; the data may contain anything.

export const ENVELOPE_PREFIX = "\x1ePG1\x1f";
const SEPARATOR = "\x1f";

/** Splits an envelope into id, event ("" for none) and data; undefined when `payload` is plain. */
export function openEnvelope(payload: string): LuaMultiReturn<[string, string, string] | [undefined]> {
  if (!payload.startsWith(ENVELOPE_PREFIX)) {
    return $multi(undefined);
  }
  const idStart = ENVELOPE_PREFIX.length;
  const idEnd = payload.indexOf(SEPARATOR, idStart);
  if (idEnd < 0) {
    return $multi(undefined);
  }
  const eventEnd = payload.indexOf(SEPARATOR, idEnd + 1);
  if (eventEnd < 0) {
    return $multi(undefined);
  }
  return $multi(payload.substring(idStart, idEnd), payload.substring(idEnd + 1, eventEnd), payload.substring(eventEnd + 1));
}

/** Builds an envelope (the Redis function builds the same bytes; tests and the SDK use this). */
export function sealEnvelope(id: string, event: string, data: string): string {
  return `${ENVELOPE_PREFIX}${id}${SEPARATOR}${event}${SEPARATOR}${data}`;
}

/** Event names: 1 to 64 characters of A-Z a-z 0-9 _ - . : (they name SSE events too). */
export function isValidEvent(name: string): boolean {
  if (name.length < 1 || name.length > 64) {
    return false;
  }
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    const ok = (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 58) || c === 95 || c === 45 || c === 46;
    if (!ok) {
      return false;
    }
  }
  return true;
}
