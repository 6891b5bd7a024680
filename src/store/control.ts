// The control stream: orders for every gateway sharing the Redis (end a user's streams, revoke
// tokens), as entries of one capped Redis Stream, pushgate:{control}, that each worker reads from
// its last id on a timer (stream/control.ts). Revocations are also kept in a hash, each until
// PUSHGATE_REVOKE_KEEP_SECONDS, so that a worker that starts later still refuses the tokens.
// One fixed hash tag: in a Redis Cluster all of it lives on one slot.

import type { Settings } from "../config/schema";
import { Failure } from "../protocol/failure";
import * as pool from "./pool";

const KEYS = ["pushgate:{control}", "pushgate:{control}:revoked", "pushgate:{control}:until"];
/** The stream keeps about this many orders: a worker reads twice a second, far fewer come meanwhile. */
const KEPT_ORDERS = 10000;
/** Orders read per call. */
const READ_COUNT = 1000;

/** One order: "disconnect" (target: user, a: reason, b: "1" to allow a reconnect), "jti" (target: token id) or "before" (target: user, a: time in s). */
export type Order = [id: string, kind: string, target: string, a: string, b: string];

/** Sends an order to every gateway; its id in the control stream. */
export function send(
  settings: Settings,
  kind: "disconnect" | "jti" | "before",
  target: string,
  a: string,
  b: string,
): LuaMultiReturn<[string] | [undefined, Failure]> {
  const keep = `${settings.revokeKeepSeconds * 1000}`;
  const [reply, failure] = pool.call(settings, "send a control order", "pushgate_control_send", KEYS, [kind, target, a, b, keep, `${KEPT_ORDERS}`]);
  if (reply === undefined) {
    return $multi(undefined, failure);
  }
  return $multi(reply as string);
}

/** The orders after `lastId`, oldest first. */
export function read(settings: Settings, lastId: string): LuaMultiReturn<[Order[]] | [undefined, Failure]> {
  const [reply, failure] = pool.call(settings, "read control orders", "pushgate_control_read", [KEYS[0]], [lastId, `${READ_COUNT}`], true);
  if (reply === undefined) {
    return $multi(undefined, failure);
  }
  return $multi(reply as unknown as Order[]);
}

/** The revocations in force (`jti:<id>` / `user:<user>` fields with their values, in pairs) and the newest order's id. */
export function snapshot(settings: Settings): LuaMultiReturn<[string, string[]] | [undefined, Failure]> {
  const [reply, failure] = pool.call(settings, "read revocations", "pushgate_control_snapshot", KEYS, [], true);
  if (reply === undefined) {
    return $multi(undefined, failure);
  }
  const values = reply as unknown as [string, string[]];
  return $multi(values[0], values[1]);
}
