// Addresses as a client on this machine reaches them: a wildcard listen address (0.0.0.0, *, [::]
// or a bare port) is not one to connect to, so examples and checks use the loopback instead.

import type { RedisAddress } from "../config/schema";

/** `host:port` a local client connects to for the listen address `listen`. */
export function clientAddress(listen: string): string {
  const colon = listen.lastIndexOf(":");
  if (colon < 0) {
    return `127.0.0.1:${listen}`;
  }
  const host = listen.substring(0, colon);
  const port = listen.substring(colon + 1);
  if (host === "*" || host === "0.0.0.0") {
    return `127.0.0.1:${port}`;
  }
  if (host === "[::]") {
    return `[::1]:${port}`;
  }
  return listen;
}

/** Host (brackets removed) and port of a `host:port` address, for net.connect. */
export function hostAndPort(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(":");
  return { host: address.substring(0, colon).replace(/^\[|\]$/g, ""), port: Number(address.substring(colon + 1)) };
}

/** A Redis address to show: its URL without the password. */
export function redisLabel(address: RedisAddress): string {
  return `redis://${address.host}:${address.port}/${address.db}`;
}
