// The hub's channels of one worker: which subscribers each channel has, and what Redis was asked
// to carry (SUBSCRIBE / UNSUBSCRIBE in flight). A channel is subscribed when its first local
// subscriber arrives and unsubscribed shortly after its last one leaves (reconcile()). Pure
// bookkeeping: the connection (connection.ts) sends what reconcile() returns and feeds back what
// Redis answers; the fan-out (fanout.ts) queues messages to the subscribers found here.

import * as queue from "./queue";
import type { Subscriber } from "./queue";

export interface ChannelState {
  subscribers: LuaTable<Subscriber, true>;
  count: number;
  /** What the hub last asked Redis: SUBSCRIBE (true) or UNSUBSCRIBE / nothing (false). */
  onRedis: boolean;
  /** Commands sent for this channel that Redis has not answered yet. */
  inFlight: number;
  emptySince: number;
  /** The newest durable id the hub delivered: after a reconnect, history is read from there. */
  lastId: string | undefined;
}

/** Margin (ms) for clocks that differ between gateway and Redis, when history is read from a time. */
const CLOCK_MARGIN_MS = 2000;

/** A channel stays subscribed this long after its last subscriber left (s), to absorb reconnects. */
const UNSUBSCRIBE_GRACE_S = 0.5;

const channels = new LuaTable<string, ChannelState>();
/** Every live subscriber of this worker, for notices that go to all. */
const members = new LuaTable<Subscriber, true>();
/** Channels whose Redis subscription may need a SUBSCRIBE or UNSUBSCRIBE. */
const dirty = new LuaTable<string, true>();

let channelCount = 0;
let memberCount = 0;

/** Redis answered a SUBSCRIBE or UNSUBSCRIBE of `channel`. */
export function confirmed(channel: string): void {
  const state = channels.get(channel);
  if (state === undefined) {
    return;
  }
  state.inFlight = math.max(0, state.inFlight - 1);
  if (state.inFlight > 0) {
    return;
  }
  if (state.onRedis) {
    for (const [subscriber] of state.subscribers) {
      queue.wake(subscriber);
    }
  } else if (state.count === 0) {
    channels.delete(channel);
    channelCount -= 1;
  }
}

/**
 * What Redis must be asked now to match the local subscribers: the channels to SUBSCRIBE and to
 * UNSUBSCRIBE (those empty for the grace period). Marks them in flight.
 */
export function reconcile(now: number): LuaMultiReturn<[string[], string[]]> {
  const subscribe: string[] = [];
  const unsubscribe: string[] = [];
  for (const [channel] of dirty) {
    const state = channels.get(channel);
    if (state === undefined) {
      dirty.delete(channel);
    } else if (state.count > 0) {
      if (!state.onRedis) {
        subscribe.push(channel);
        state.onRedis = true;
        state.inFlight += 1;
      }
      dirty.delete(channel);
    } else if (state.onRedis) {
      if (now - state.emptySince >= UNSUBSCRIBE_GRACE_S) {
        unsubscribe.push(channel);
        state.onRedis = false;
        state.inFlight += 1;
        dirty.delete(channel);
      }
    } else {
      if (state.inFlight === 0) {
        channels.delete(channel);
        channelCount -= 1;
      }
      dirty.delete(channel);
    }
  }
  return $multi(subscribe, unsubscribe);
}

/**
 * Where each channel in use resumes after a reconnect: after the newest id the hub delivered, or,
 * for a channel that had none, from a little before the old connection was last heard from.
 */
export function resumePositions(lostAtMs: number): LuaMultiReturn<[string[], Record<string, string>]> {
  const names: string[] = [];
  const after: Record<string, string> = {};
  const fallback = `${math.max(0, lostAtMs - CLOCK_MARGIN_MS)}-0`;
  for (const [channel, state] of channels) {
    if (state.count > 0) {
      names.push(channel);
      after[channel] = state.lastId ?? fallback;
    }
  }
  return $multi(names, after);
}

/** Where one channel in use resumes (as resumePositions()); undefined when it has no subscriber. */
export function resumePositionOf(channel: string, lostAtMs: number): string | undefined {
  const state = channels.get(channel);
  if (state === undefined || state.count === 0) {
    return undefined;
  }
  return state.lastId ?? `${math.max(0, lostAtMs - CLOCK_MARGIN_MS)}-0`;
}

/**
 * In a cluster, one shard stopped carrying `channel` (its connection ended, its slot moved): it
 * is to be subscribed again (where reconcile() says). False when nobody uses it any more.
 */
export function channelLost(channel: string): boolean {
  const state = channels.get(channel);
  if (state === undefined) {
    return false;
  }
  state.onRedis = false;
  state.inFlight = 0;
  if (state.count > 0) {
    dirty.set(channel, true);
    return true;
  }
  channels.delete(channel);
  channelCount -= 1;
  dirty.delete(channel);
  return false;
}

/** A new connection carries nothing yet: every channel in use is to be subscribed again. */
export function resubscribeAll(): void {
  for (const [channel] of channels) {
    dirty.set(channel, true);
  }
}

/** After a connection is lost: nothing is subscribed any more; every channel in use is dirty. */
export function forgetRedisState(): void {
  for (const [channel, state] of channels) {
    state.onRedis = false;
    state.inFlight = 0;
    if (state.count > 0) {
      dirty.set(channel, true);
    } else {
      channels.delete(channel);
      channelCount -= 1;
      dirty.delete(channel);
    }
  }
}

/** Registers `subscriber` on each of `names`; true when Redis must be asked to carry one of them. */
function attach(subscriber: Subscriber, names: string[]): boolean {
  let needsRedis = false;
  for (const name of names) {
    let state = channels.get(name);
    if (state === undefined) {
      state = { subscribers: new LuaTable(), count: 0, onRedis: false, inFlight: 0, emptySince: 0, lastId: undefined };
      channels.set(name, state);
      channelCount += 1;
    }
    state.subscribers.set(subscriber, true);
    state.count += 1;
    if (!state.onRedis) {
      dirty.set(name, true);
      needsRedis = true;
    }
  }
  return needsRedis;
}

/** Unregisters `subscriber` from each of `names`; an emptied channel is unsubscribed after the grace. */
function detach(subscriber: Subscriber, names: string[]): void {
  const now = ngx.now();
  for (const name of names) {
    const state = channels.get(name);
    if (state !== undefined && state.subscribers.has(subscriber)) {
      state.subscribers.delete(subscriber);
      state.count -= 1;
      if (state.count === 0) {
        state.emptySince = now;
        dirty.set(name, true);
      }
    }
  }
}

/** Adds a subscriber on `subscriber.channels`; true when Redis must be asked to carry a channel. */
export function join(subscriber: Subscriber): boolean {
  members.set(subscriber, true);
  memberCount += 1;
  return attach(subscriber, subscriber.channels);
}

export function leave(subscriber: Subscriber): void {
  if (!members.has(subscriber)) {
    return;
  }
  members.delete(subscriber);
  memberCount -= 1;
  detach(subscriber, subscriber.channels);
}

/** Adds channels to a live subscriber (ones it has already are skipped); true when Redis must carry one. */
export function addChannels(subscriber: Subscriber, names: string[]): boolean {
  const current = new LuaTable<string, true>();
  for (const name of subscriber.channels) {
    current.set(name, true);
  }
  const fresh: string[] = [];
  const all = [...subscriber.channels]; // a new list: the stream's tracker shares the one it had (stream/resume Tracker)
  for (const name of names) {
    if (!current.has(name)) {
      current.set(name, true);
      fresh.push(name);
      all.push(name);
    }
  }
  queue.setChannels(subscriber, all);
  return attach(subscriber, fresh);
}

/** Removes channels from a live subscriber: nothing more is queued from them for it. */
export function removeChannels(subscriber: Subscriber, names: string[]): void {
  const removed = new LuaTable<string, true>();
  for (const name of names) {
    removed.set(name, true);
  }
  const kept: string[] = [];
  for (const name of subscriber.channels) {
    if (!removed.has(name)) {
      kept.push(name);
    }
  }
  queue.setChannels(subscriber, kept);
  detach(subscriber, names);
}

/** True once Redis has confirmed every channel of the subscriber (on the live connection). */
export function isConfirmed(subscriber: Subscriber): boolean {
  for (const name of subscriber.channels) {
    const state = channels.get(name);
    if (state === undefined || !state.onRedis || state.inFlight > 0) {
      return false;
    }
  }
  return true;
}

/** The state of `channel`, while it has one (the fan-out reads its subscribers and keeps its last id). */
export function stateOf(channel: string): ChannelState | undefined {
  return channels.get(channel);
}

/** Every live subscriber of this worker. */
export function everyMember(): LuaTable<Subscriber, true> {
  return members;
}

/** How many channels and subscribers this worker holds. */
export function counts(): LuaMultiReturn<[number, number]> {
  return $multi(channelCount, memberCount);
}
