// Why the server ends a stream, as a stable code, and what a client is told: the text of the last
// line, and whether reconnecting is the right reaction (as opposed to a request it must change).

// "disconnected" and "revoked" come from the server API (disconnect, revoke): their text is the
// reason the caller gave, and a disconnect says itself whether the client may come back.
export type Ending = "restart" | "redis-lost" | "overflow" | "token-expired" | "internal" | "disconnected" | "revoked";

export const ENDING_TEXT: Record<Ending, string> = {
  restart: "server restart",
  "redis-lost": "redis connection lost",
  overflow: "client too slow: its queue overflowed",
  "token-expired": "token expired",
  internal: "internal error",
  disconnected: "disconnected by the server",
  revoked: "token revoked",
};

export const ENDING_RECONNECT: Record<Ending, boolean> = {
  restart: true,
  "redis-lost": true,
  overflow: true,
  "token-expired": false,
  internal: false,
  disconnected: true,
  revoked: false,
};
