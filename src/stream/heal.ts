// Healing after Redis comes back: what the channels in use missed while the hub's connection was
// down, read from their history, for the hub to queue before any live message.

import * as settingsHolder from "../host/settings";
import type { Missed } from "../hub/fanout";
import * as messages from "../store/messages";
import type { StoredMessage } from "../store/messages";

/** The restored hook of the hub: the channels whose history no longer reaches back, and the missed messages. */
export function missedSince(this: void, channels: string[], after: Record<string, string>): Missed {
  const kept: StoredMessage[] = [];
  const [gaps, failure] = messages.history(settingsHolder.get(), channels, after, 0, kept);
  if (gaps === undefined) {
    return $multi(undefined, failure.message);
  }
  const missed: Array<[string, string, string, string]> = [];
  for (const entry of kept) {
    missed.push([entry.channel, entry.id, entry.data, entry.event]);
  }
  return $multi(gaps, missed);
}
