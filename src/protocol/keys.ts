// Redis key names of a channel's durable state (see redis/pushgate.lua, and README's list of
// keys). The channel sits in a hash tag, so all keys of one channel map to one Redis Cluster slot
// and one function call never touches two slots.

export function streamKey(channel: string): string {
  return `pushgate:{${channel}}:stream`;
}

export function metaKey(channel: string): string {
  return `pushgate:{${channel}}:meta`;
}

export function idempotencyKey(channel: string, key: string): string {
  return `pushgate:{${channel}}:idem:${key}`;
}

/** A channel's read positions: a hash user -> id read up to (in the channel's slot). */
export function readKey(channel: string): string {
  return `pushgate:{${channel}}:read`;
}

/**
 * A channel's presence keys (in its slot): connection id -> expiry, user -> expiry, and the user's
 * connection ids there; an anonymous connection's have no third (no '': in a cluster it is a key
 * of another slot).
 */
export function presenceKeys(channel: string, user: string): string[] {
  const keys = [`pushgate:{${channel}}:pconn`, `pushgate:{${channel}}:puser`];
  if (user !== "") {
    keys.push(`pushgate:{${channel}}:puser:${user}`);
  }
  return keys;
}

/** A user's presence keys (in the user's slot): connection ids -> expiry on every gateway, and last seen. */
export function userPresenceKeys(user: string): string[] {
  return [`pushgate:user:{${user}}:conns`, `pushgate:user:{${user}}:seen`];
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
