// The error replies by which a cluster node sends a command elsewhere, as resty.redis hands them
// over (`false, "MOVED 3999 127.0.0.1:6381"`): MOVED (the slot has a new owner: update the map),
// ASK (the slot is being migrated and this key is already on the target: send ASKING there, then
// the command, once), and the transient TRYAGAIN and CLUSTERDOWN. Pure: runs under busted.

import { SLOT_COUNT } from "../../protocol/slot";
import { nodeName } from "./slots";

/** A parsed MOVED or ASK. */
export interface Redirect {
  kind: "moved" | "ask";
  slot: number;
  host: string;
  port: number;
  /** `host:port`, as slots.ts names nodes. */
  name: string;
}

/**
 * The redirect in an error reply, or undefined when it is none. `fallbackHost`: the host of the
 * node that answered, for an address given as ":port" (a node whose endpoint is unknown to others).
 * An IPv6 address may come bare (`::1:6381`) or in brackets (`[::1]:6381`): the port follows the last colon.
 */
export function parseRedirect(err: string, fallbackHost: string): Redirect | undefined {
  const [word, slotText, address] = string.match(err, "^(%u+) (%d+) (%S*)$");
  if (word === undefined || slotText === undefined || address === undefined) {
    return undefined;
  }
  let kind: "moved" | "ask";
  if (word === "MOVED") {
    kind = "moved";
  } else if (word === "ASK") {
    kind = "ask";
  } else {
    return undefined;
  }
  const [givenHost, portText] = string.match(address, "^(.*):(%d+)$");
  if (givenHost === undefined || portText === undefined) {
    return undefined;
  }
  const slot = tonumber(slotText) ?? -1;
  const port = tonumber(portText) ?? 0;
  if (slot >= SLOT_COUNT || port <= 0 || port > 65535) {
    return undefined;
  }
  let host = givenHost;
  const [bracketed] = string.match(host, "^%[(.*)%]$");
  if (bracketed !== undefined) {
    host = bracketed;
  }
  if (host === "") {
    host = fallbackHost;
  }
  return { kind, slot, host, port, name: nodeName(host, port) };
}

/** TRYAGAIN: a multi-key command during a slot migration; worth another try after a short wait. */
export function isTryAgain(err: string): boolean {
  return string.find(err, "TRYAGAIN", 1, true)[0] === 1;
}

/** CLUSTERDOWN: the cluster cannot serve (a failover under way, or slots without an owner). */
export function isClusterDown(err: string): boolean {
  return string.find(err, "CLUSTERDOWN", 1, true)[0] === 1;
}
