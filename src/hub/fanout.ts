// The hub's fan-out in one worker: each message Redis delivers goes to the queue of every local
// subscriber of its channel (the envelope opened once, every queue sharing its strings), with the
// overflow policy applied per queue; notices go to every subscriber; after a reconnect, what
// history gave back is queued before any live message. The counters /status reports live here.

import { openEnvelope } from "../protocol/envelope";
import { missedGapText, NOTICE_TEXT, recoveredText } from "../protocol/notices";
import type { HubStats } from "../protocol/status";
import * as queue from "./queue";
import type { QueueLimits, Subscriber } from "./queue";
import * as registry from "./registry";

/**
 * What a reconnected hub gets back from history (the restored hook): the channels whose history
 * no longer reaches back, and the messages missed, [channel, id, data, event], channel by channel.
 */
export type Missed = LuaMultiReturn<[string[], Array<[string, string, string, string]>] | [undefined, string]>;

let limits: QueueLimits = { messages: 1000, bytes: 8388608, overflow: "disconnect" };
const counters = { messages: 0, reconnects: 0, notices: 0, dropped: 0, overflows: 0 };

export function configure(queueLimits: QueueLimits): void {
  limits = queueLimits;
}

function enqueue(subscriber: Subscriber, channel: string, data: string, id: string | undefined, event: string | undefined): void {
  const [dropped, overflowed] = queue.enqueue(subscriber, channel, data, id, event, limits);
  if (dropped > 0) {
    counters.dropped += dropped;
  }
  if (overflowed) {
    counters.overflows += 1;
  }
}

/** A notice's text travels in the queue's id slot, where a message keeps its id. */
function noticeTo(subscriber: Subscriber, code: string, text: string): void {
  enqueue(subscriber, "", code, text, undefined);
  counters.notices += 1;
}

/** Queues a notice (a code of NOTICE_TEXT) for every subscriber. */
export function noticeAll(code: string): void {
  const text = NOTICE_TEXT[code];
  for (const [subscriber] of registry.everyMember()) {
    noticeTo(subscriber, code, text);
  }
}

/** Queues a notice (a code of NOTICE_TEXT) for the subscribers of `channel`. */
export function noticeChannel(channel: string, code: string): void {
  const state = registry.stateOf(channel);
  if (state !== undefined) {
    for (const [subscriber] of state.subscribers) {
      noticeTo(subscriber, code, NOTICE_TEXT[code]);
    }
  }
}

/** Fans a message Redis delivered out to the channel's queues. */
export function deliver(channel: string, payload: string): void {
  counters.messages += 1;
  const state = registry.stateOf(channel);
  if (state === undefined) {
    return;
  }
  // Opened once per message, not per subscriber: every queue shares the same strings.
  const [id, event, data] = openEnvelope(payload);
  if (id !== undefined) {
    state.lastId = id;
  }
  for (const [subscriber] of state.subscribers) {
    enqueue(subscriber, channel, data ?? payload, id, event);
  }
}

/**
 * Queues what history gave back after a reconnect, before any live message of the new
 * connection: per channel a `gap` notice when history no longer reaches back, a `recovered`
 * notice with the count, then the messages in order (the streams skip what they already sent).
 */
export function deliverMissed(gaps: string[], missed: Array<[string, string, string, string]>): void {
  for (const channel of gaps) {
    const state = registry.stateOf(channel);
    if (state !== undefined) {
      for (const [subscriber] of state.subscribers) {
        noticeTo(subscriber, "gap", missedGapText(channel));
      }
    }
  }
  let i = 0;
  while (i < missed.length) {
    const channel = missed[i][0];
    let end = i;
    while (end < missed.length && missed[end][0] === channel) {
      end += 1;
    }
    const state = registry.stateOf(channel);
    if (state !== undefined) {
      for (const [subscriber] of state.subscribers) {
        noticeTo(subscriber, "recovered", recoveredText(end - i, channel));
        for (let k = i; k < end; k++) {
          const [, id, data, event] = missed[k];
          enqueue(subscriber, channel, data, id, event);
        }
      }
      state.lastId = missed[end - 1][1];
    }
    i = end;
  }
}

/** Ends every subscriber's stream (the worker is exiting). */
export function endAll(reason: string): void {
  for (const [subscriber] of registry.everyMember()) {
    queue.end(subscriber, reason);
  }
}

export function countReconnect(): void {
  counters.reconnects += 1;
}

export function stats(connected: boolean): HubStats {
  const [channels, subscribers] = registry.counts();
  return { connected, channels, subscribers, ...counters };
}
