// A live stream that fell behind gets back what it missed from the channels' history: after its
// queue overflowed (policy catch-up, shared mode), and after its own Redis connection broke
// (direct mode; in shared mode the hub heals every stream at once, see stream/heal.ts).

import type { Settings } from "../config/schema";
import type { Ending } from "../protocol/ending";
import { missedGapText, NOTICE_TEXT, recoveredText } from "../protocol/notices";
import * as messages from "../store/messages";
import type { StoredMessage } from "../store/messages";
import type { Transport } from "../transport/transport";
import { sendBacklog, Stream } from "./open";

/** Messages per channel a catching-up stream reads from history at a time (bounds its memory). */
const CATCH_UP_BATCH = 100;

/**
 * Sends the next batch of what the stream missed, from history after its positions. Returns
 * whether it has caught up (every channel gave less than a batch), or undefined when the client
 * is gone or Redis cannot be read.
 */
function sendMissed(transport: Transport, settings: Settings, stream: Stream): boolean | undefined {
  const tracker = stream.tracker;
  const channels = tracker.channelList();
  const kept: StoredMessage[] = [];
  const [gaps, failure] = messages.history(settings, channels, tracker.positions(), 0, kept, CATCH_UP_BATCH);
  if (gaps === undefined) {
    ngx.log(ngx.WARN, "a stream could not catch up: ", failure.message);
    return undefined;
  }
  if (!sendBacklog(transport, tracker, { entries: kept, gaps })) {
    return undefined;
  }
  const counts: Record<string, number> = {};
  for (const entry of kept) {
    counts[entry.channel] = (counts[entry.channel] ?? 0) + 1;
  }
  for (const channel of channels) {
    if ((counts[channel] ?? 0) >= CATCH_UP_BATCH) {
      return false;
    }
  }
  return true;
}

/**
 * Policy catch-up: the stream's queue overflowed and was dropped. It reads what it missed from
 * history at the client's pace, then has live messages queued again, then reads once more what
 * was published before they were (the tracker skips what the queue repeats). False when it ends.
 */
export function catchUp(transport: Transport, settings: Settings, stream: Stream): boolean {
  for (;;) {
    const done = sendMissed(transport, settings, stream);
    if (done === undefined) {
      return false;
    }
    if (done) {
      break;
    }
  }
  stream.mode.caughtUp(stream.subscription);
  for (;;) {
    const done = sendMissed(transport, settings, stream);
    if (done === undefined) {
      return false;
    }
    if (done) {
      return true;
    }
  }
}

/** How long a stream whose own Redis connection broke (direct mode) tries to get a new one (s). */
const RECONNECT_BUDGET_S = 5;
const RECONNECT_BACKOFF_MAX_S = 1;

/**
 * Sends what history gave back after a reconnect, as the hub does for shared streams: a gap
 * notice per channel it no longer reaches back for, then per channel a `recovered` notice and
 * the messages the stream has not sent. False when the client is gone.
 */
function sendRecovered(transport: Transport, stream: Stream, gaps: string[], kept: StoredMessage[]): boolean {
  const tracker = stream.tracker;
  for (const channel of gaps) {
    const [written] = transport.notice("gap", missedGapText(channel));
    if (written === undefined) {
      return false;
    }
  }
  let i = 0;
  while (i < kept.length) {
    const channel = kept[i].channel;
    let end = i;
    while (end < kept.length && kept[end].channel === channel) {
      end += 1;
    }
    const [noticed] = transport.notice("recovered", recoveredText(end - i, channel));
    if (noticed === undefined) {
      return false;
    }
    for (let k = i; k < end; k++) {
      const entry = kept[k];
      // a WebSocket hello that came meanwhile holds its channels: these go after its own backlog, as live ones do
      const held = stream.hello !== undefined && stream.hello.defer(entry.channel, entry.data, entry.id, entry.event);
      if (!held && tracker.accept(entry.channel, entry.id)) {
        const event = entry.event !== "" ? entry.event : undefined;
        const [written] = transport.message(entry.channel, entry.data, entry.id, event, tracker.cursor(entry.id));
        if (written === undefined) {
          return false;
        }
      }
    }
    i = end;
  }
  return transport.flush()[0] !== undefined;
}

/**
 * Direct mode: the stream's own Redis connection broke. Tells the client, gets a new connection
 * within RECONNECT_BUDGET_S, then heals from history what it missed. Returns how the stream goes
 * on: "go", or the ending when it cannot.
 */
export function recover(transport: Transport, settings: Settings, stream: Stream): "go" | Ending | undefined {
  const [told] = transport.notice("redis-lost", NOTICE_TEXT["redis-lost"]);
  if (told === undefined) {
    return undefined;
  }
  const tracker = stream.tracker;
  const deadline = ngx.now() + RECONNECT_BUDGET_S;
  let backoff = 0.1;
  for (;;) {
    if (ngx.worker.exiting()) {
      return "restart";
    }
    const [back, err] = stream.mode.reconnect(stream.subscription, tracker.channelList(), settings);
    if (back !== undefined) {
      break;
    }
    if (ngx.now() + backoff > deadline) {
      ngx.log(ngx.WARN, "a stream could not get its redis connection back: ", err);
      return "redis-lost";
    }
    ngx.sleep(backoff * (0.5 + math.random() * 0.5));
    backoff = math.min(backoff * 2, RECONNECT_BACKOFF_MAX_S);
  }
  const [restored] = transport.notice("redis-restored", NOTICE_TEXT["redis-restored"]);
  if (restored === undefined) {
    return undefined;
  }
  const kept: StoredMessage[] = [];
  const [gaps, failure] = messages.history(settings, tracker.channelList(), tracker.positions(), 0, kept);
  if (gaps === undefined) {
    ngx.log(ngx.WARN, "a stream could not read what it missed: ", failure.message);
    return "redis-lost";
  }
  return sendRecovered(transport, stream, gaps, kept) ? "go" : undefined;
}
