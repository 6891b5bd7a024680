// Redis key names of a channel's durable state (see redis/pushgate.lua). The channel sits in a
// hash tag, so all keys of one channel map to one Redis Cluster slot.

export function streamKey(channel: string): string {
  return `pushgate:{${channel}}:stream`;
}

export function metaKey(channel: string): string {
  return `pushgate:{${channel}}:meta`;
}

export function idempotencyKey(channel: string, key: string): string {
  return `pushgate:{${channel}}:idem:${key}`;
}

/** A user's read positions: a hash channel -> id read up to. */
export function readKey(user: string): string {
  return `pushgate:read:${user}`;
}

/** Idempotency keys: 1 to 128 visible ASCII characters. */
export function isValidIdempotencyKey(key: string): boolean {
  if (key.length < 1 || key.length > 128) {
    return false;
  }
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c < 33 || c > 126) {
      return false;
    }
  }
  return true;
}
