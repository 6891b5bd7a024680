// Opening a stream, the part every transport shares: who the client is (policy), its connection
// slot, where it resumes, the subscription (through the configured mode: registered for live
// messages first), then the backlog to send before going live. The entry hands in the request
// as a record (StreamRequest); failures come back as values (protocol/failure.ts).

import type { Settings } from "../config/schema";
import { requestKey } from "../host/http";
import * as metrics from "../host/metrics";
import * as access from "../policy/access";
import * as admission from "../store/admission";
import * as presence from "../store/presence";
import { Failure, UNAVAILABLE } from "../protocol/failure";
import * as direct from "../subscribe/direct";
import type { SubscriptionMode } from "../subscribe/mode";
import * as shared from "../subscribe/shared";
import type { Transport } from "../transport/transport";
import * as control from "./control";
import { Backlog, gapText, Hello, plan, readBacklog, Tracker } from "./resume";

/** A subscribe request as its entry parsed it. */
export interface StreamRequest {
  /** Valid channel names, no duplicates (a WebSocket may start with none). */
  channels: string[];
  credentials: access.Credentials;
  /** Where to resume: Last-Event-ID, else ?since=, else ?last_event_id=. */
  cursor: string | undefined;
  /** ?backlog=N: the last N messages of each channel. */
  backlog: string | undefined;
}

/** An open stream: its subscription and what makes its delivery exactly-once. */
export interface Stream {
  /** The configured subscription mode; its subscription is opaque here, only the mode reads it. */
  mode: SubscriptionMode<object>;
  subscription: object;
  identity: access.Identity;
  tracker: Tracker;
  // The fields below are absent until set: an idle stream's record has the 4 above, a hash of 4
  // slots rather than 8 (96 bytes less per stream, bench/probes/memory-map.js).
  /** What to send before going live; dropped once sent (a stream lives long, its backlog need not). */
  backlog?: Backlog;
  /** A WebSocket hello in progress (resume.ts). */
  hello?: Hello;
  /** finish() has run. */
  ended?: true;
  /** Channels a WebSocket refresh took away: the pump drops their messages still on the way. */
  revoked?: LuaTable<string, true>;
  /** The user's connection slot on all gateways (store/admission); absent when the cap is off. */
  slot?: string;
  /** Set when the server API ends the stream (disconnect, revoke: stream/control). */
  order?: control.Order;
}

/** The configured subscription mode. */
function configuredMode(settings: Settings): SubscriptionMode<object> {
  return settings.mode === "shared" ? shared : direct;
}

/** Opens a stream of `request`: subscribed, with its backlog read. Release it with finish(). */
export function open(settings: Settings, request: StreamRequest): LuaMultiReturn<[Stream] | [undefined, Failure]> {
  const channels = request.channels;
  const [identity, authFailure] = access.forSubscribe(settings, request.credentials, channels);
  if (identity === undefined) {
    return $multi(undefined, authFailure);
  }
  const refusal = control.admit(settings, identity.user, identity.jti, identity.issued);
  if (refusal !== undefined) {
    return $multi(undefined, refusal);
  }
  const user = identity.user;
  const [slot, limitFailure] = admission.admit(settings, user, request.credentials.address);
  if (slot === undefined) {
    return $multi(undefined, limitFailure);
  }
  const [resume, planFailure] = plan(settings, channels, user, request.cursor, request.backlog);
  if (resume === undefined) {
    admission.release(settings, user, slot);
    return $multi(undefined, planFailure);
  }
  const mode = configuredMode(settings);
  const [subscription, subscribeErr] = mode.open(channels, settings);
  if (subscription === undefined) {
    admission.release(settings, user, slot);
    ngx.log(ngx.ERR, subscribeErr);
    return $multi(undefined, UNAVAILABLE);
  }
  let backlog: Backlog | undefined;
  if (resume.any) {
    const [read, readFailure] = readBacklog(settings, channels, resume);
    if (read === undefined) {
      mode.close(subscription);
      admission.release(settings, user, slot);
      return $multi(undefined, readFailure);
    }
    backlog = read.entries.length > 0 || read.gaps.length > 0 ? read : undefined;
  }
  metrics.streamOpened();
  presence.track(subscription, user, channels);
  const stream: Stream = { mode, subscription, identity, tracker: new Tracker(channels, resume.after) };
  if (backlog !== undefined) {
    stream.backlog = backlog;
  }
  if (slot !== "") {
    stream.slot = slot;
  }
  control.register(stream);
  return $multi(stream);
}

/**
 * The open streams of requests whose socket nginx reads (not a raw WebSocket), by request
 * (host/http requestKey), until their log phase. With lua_check_client_abort on and no on_abort
 * handler, nginx ends a request whose client went away at once (499), its threads with it; the
 * log phase (entry/ended.ts) then finishes its stream. An on_abort handler, a closure and a thread
 * of its own per stream, cost 1.75 KB per idle stream (bench/probes/idle-memory.js).
 */
const byRequest = new LuaTable<number, Stream>();

/** The open streams by request, read-only: what host/heapmap measures (PUSHGATE_LUA_HEAP_MAP). */
export function openRequests(): LuaTable<number, Stream> {
  return byRequest;
}

/** open(), and finish() by requestEnded() however the request ends, its client going away included. */
export function openUntilEnd(settings: Settings, request: StreamRequest): LuaMultiReturn<[Stream] | [undefined, Failure]> {
  const [stream, failure] = open(settings, request);
  if (stream === undefined) {
    return $multi(undefined, failure);
  }
  byRequest.set(requestKey(), stream);
  return $multi(stream);
}

/** The log phase of a request: finishes its stream if openUntilEnd() opened one and nothing has finished it. */
export function requestEnded(settings: Settings): void {
  const key = requestKey();
  const stream = byRequest.get(key);
  if (stream !== undefined) {
    byRequest.delete(key);
    if (stream.ended === undefined) {
      finish(stream, settings);
    }
  }
}

/** Releases what open() took: the subscription and the user's connection slot. Safe twice. */
export function finish(stream: Stream, settings: Settings): void {
  stream.mode.close(stream.subscription);
  if (stream.ended === undefined) {
    stream.ended = true;
    metrics.streamClosed();
    presence.untrack(stream.subscription);
    control.unregister(stream);
    admission.release(settings, stream.identity.user, stream.slot ?? "");
  }
}

/** Sends `backlog` (gap notices, then the messages not sent yet); false when the client is gone. */
export function sendBacklog(transport: Transport, tracker: Tracker, backlog: Backlog): boolean {
  for (const channel of backlog.gaps) {
    const [written] = transport.notice("gap", gapText(channel));
    if (written === undefined) {
      return false;
    }
  }
  for (const entry of backlog.entries) {
    if (tracker.accept(entry.channel, entry.id)) {
      const event = entry.event !== "" ? entry.event : undefined;
      const [written] = transport.message(entry.channel, entry.data, entry.id, event, tracker.cursor(entry.id));
      if (written === undefined) {
        return false;
      }
    }
  }
  return transport.flush()[0] !== undefined;
}
