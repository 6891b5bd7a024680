// Acting on users, in this worker: an index of the open streams by user (registered by open,
// removed by finish: nothing per message), the worker's copy of the revocations (auth/revocations),
// and the timer that reads the control stream (store/control) every CONTROL_POLL_S and carries out
// each order: a disconnect or a revocation ends the matching streams through their subscription
// mode (shared: the hub's queue ends and wakes the stream; direct: the stream sees it within its
// wait of at most 0.5 s), and the pump closes them with the reason. A connect is checked against
// the copy, not Redis: a revocation reaches every worker within one poll (CONTROL_POLL_S).

import type { Settings } from "../config/schema";
import { Revocations } from "../auth/revocations";
import * as settingsHolder from "../host/settings";
import type { Ending } from "../protocol/ending";
import { Failure, failure } from "../protocol/failure";
import * as admission from "../store/admission";
import * as control from "../store/control";
import type { Stream } from "./open";

/** How often each worker reads the control stream (s). */
const CONTROL_POLL_S = 0.5;
/**
 * How often the copy of the revocations is read afresh (s): those Redis no longer keeps drop out
 * of the worker's memory too, and one the worker missed (orders trimmed off the capped stream
 * before it read them) comes in.
 */
const RELOAD_S = 60;

/** Why a stream is being ended through the server API: read by the pump at its next turn. */
export interface Order {
  ending: Ending;
  text: string;
  reconnect: boolean;
}

/** This worker's open streams by user ("" for streams without one). */
const streams = new LuaTable<string, LuaTable<Stream, true>>();
let revocations = new Revocations();
/** The newest order read; undefined until the revocations were loaded. */
let lastId: string | undefined;
let loadedAt = 0;

/**
 * Loads the revocations in force, and at the first load where the control stream is. Later loads
 * keep reading orders from where the worker is: the revocations among them are in the copy
 * already (Redis writes the order and the revocation together), applying them again changes nothing.
 */
function load(settings: Settings): boolean {
  const now = ngx.now();
  if (lastId !== undefined && now - loadedAt < RELOAD_S) {
    return true;
  }
  const [id, fields] = control.snapshot(settings);
  if (id === undefined) {
    return lastId !== undefined; // the copy in hand serves until Redis answers again
  }
  const fresh = new Revocations();
  for (let i = 0; i + 1 < fields.length; i += 2) {
    fresh.load(fields[i], fields[i + 1]);
  }
  revocations = fresh;
  lastId ??= id;
  loadedAt = now;
  return true;
}

/**
 * Refuses an identity whose token was revoked (401); only tokens are revoked (`issued` is set for
 * them alone). The first connects of a worker that has not read the revocations yet read them now;
 * unavailable when Redis cannot be reached then.
 */
export function admit(settings: Settings, user: string | undefined, jti: string | undefined, issued: number | undefined): Failure | undefined {
  if (issued === undefined) {
    return undefined;
  }
  if (lastId === undefined && !load(settings)) {
    return failure("unavailable", "redis is unavailable, try again later");
  }
  const refusal = revocations.refusal(user, jti, issued);
  return refusal !== undefined ? failure("unauthorized", refusal) : undefined;
}

/** A stream an order can name: it has a user, or a token (a revocation by jti). */
function isActedOn(stream: Stream): boolean {
  return stream.identity.user !== undefined || stream.identity.issued !== undefined;
}

/** Adds an open stream to the index. */
export function register(stream: Stream): void {
  if (!isActedOn(stream)) {
    return; // an anonymous stream without a token: no order can name it, and it costs no slot here
  }
  const user = stream.identity.user ?? "";
  let set = streams.get(user);
  if (set === undefined) {
    set = new LuaTable();
    streams.set(user, set);
  }
  set.set(stream, true);
}

/** Removes a stream from the index (finish). */
export function unregister(stream: Stream): void {
  if (!isActedOn(stream)) {
    return;
  }
  const user = stream.identity.user ?? "";
  const set = streams.get(user);
  if (set !== undefined) {
    set.delete(stream);
    if (next(set)[0] === undefined) {
      streams.delete(user);
    }
  }
}

/** Has `stream` end with `order` at its pump's next turn (at once in shared mode). */
function end(stream: Stream, order: Order): void {
  if (stream.order === undefined && stream.ended === undefined) {
    stream.order = order;
    stream.mode.end(stream.subscription);
  }
}

function endRevoked(set: LuaTable<Stream, true>, order: Order): void {
  for (const [stream] of set) {
    const identity = stream.identity;
    if (identity.issued !== undefined && revocations.refusal(identity.user, identity.jti, identity.issued) !== undefined) {
      end(stream, order);
    }
  }
}

/** Carries out one order of the control stream. */
function carryOut(kind: string, target: string, a: string, b: string): void {
  if (kind === "disconnect") {
    const set = streams.get(target);
    if (set !== undefined) {
      const order: Order = { ending: "disconnected", text: a !== "" ? a : "disconnected by the server", reconnect: b === "1" };
      for (const [stream] of set) {
        end(stream, order);
      }
    }
  } else if (kind === "jti") {
    revocations.revokeId(target);
    const order: Order = { ending: "revoked", text: "token revoked", reconnect: false };
    for (const [, set] of streams) {
      endRevoked(set, order);
    }
  } else if (kind === "before") {
    const time = tonumber(a);
    const set = streams.get(target);
    if (time !== undefined) {
      revocations.revokeBefore(target, time);
      if (set !== undefined) {
        // the user may come back with a token issued since
        endRevoked(set, { ending: "revoked", text: "token revoked", reconnect: true });
      }
    }
  }
}

function poll(this: void, premature: boolean): void {
  if (premature) {
    return;
  }
  const settings = settingsHolder.get();
  if (!load(settings)) {
    return;
  }
  for (;;) {
    const [orders] = control.read(settings, lastId!);
    if (orders === undefined || orders.length === 0) {
      return;
    }
    for (const [id, kind, target, a, b] of orders) {
      lastId = id;
      carryOut(kind, target, a, b);
    }
  }
}

/** init_worker: the control timer, and the admission's (slots refreshed and given back). */
export function start(settings: Settings): void {
  ngx.timer.at(0, poll);
  ngx.timer.every(CONTROL_POLL_S, poll);
  admission.start(settings);
}
