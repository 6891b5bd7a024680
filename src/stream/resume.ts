// Resume without loss: where a stream starts (a cursor, the last N, or a user's read positions),
// the backlog it sends before going live, and the bookkeeping that makes it exactly-once. The
// core registers for live messages first, then reads the backlog after the cursor, then drains
// the live queue skipping ids already sent: nothing published during the handshake is lost,
// nothing is sent twice, order is kept per channel. A WebSocket `hello` resumes a live stream the
// same way (Hello, below).

import type { Settings } from "../config/schema";
import { compareIds, formatCursor, OLDEST_ID, parseCursor } from "../protocol/cursor";
import { Failure, failure } from "../protocol/failure";
import * as messages from "../store/messages";
import type { StoredMessage } from "../store/messages";
import * as readstate from "../store/readstate";

export interface ResumePlan {
  /** Channel -> the id to resume after ("0-0": everything kept). */
  after: Record<string, string>;
  /** The last N messages of each channel that has no position (?backlog=N); 0: none. */
  lastN: number;
  /** True when anything must be read before going live. */
  any: boolean;
}

/** What a stream sends before going live: gap notices first, then the kept messages in order. */
export interface Backlog {
  entries: StoredMessage[];
  gaps: string[];
}

/** The inbox channel of a user. */
export function inboxOf(user: string): string {
  return `user:${user}`;
}

export function gapText(channel: string): string {
  return `messages of ${channel} after the cursor are no longer kept: the cursor is older than the history`;
}

/**
 * Where a stream resumes: its cursor (Last-Event-ID, ?since= or ?last_event_id=, as the entry
 * found it), ?backlog=N, or else the user's read positions (and its inbox from the oldest kept).
 */
export function plan(
  settings: Settings,
  channels: string[],
  user: string | undefined,
  cursor: string | undefined,
  backlog: string | undefined,
): LuaMultiReturn<[ResumePlan] | [undefined, Failure]> {
  const resume: ResumePlan = { after: {}, lastN: 0, any: false };
  if (cursor !== undefined && cursor.length > 0) {
    const [positions, err] = parseCursor(cursor, channels);
    if (positions === undefined) {
      return $multi(undefined, failure("invalid", err));
    }
    resume.after = positions;
    resume.any = true;
  }
  if (backlog !== undefined) {
    const n = tonumber(backlog);
    if (n === undefined || n < 1 || n > 1000000 || math.floor(n) !== n) {
      return $multi(undefined, failure("invalid", "invalid backlog: an integer from 1 to 1000000"));
    }
    resume.lastN = n;
    resume.any = true;
  }
  // A WebSocket may connect with no channel yet: then there are no positions to read.
  if (!resume.any && user !== undefined && channels.length > 0) {
    const [read, readFailure] = readstate.positions(settings, user, channels);
    if (read === undefined) {
      return $multi(undefined, readFailure);
    }
    const inbox = inboxOf(user);
    for (const channel of channels) {
      const position = read[channel];
      if (position !== undefined) {
        resume.after[channel] = position;
        resume.any = true;
      } else if (channel === inbox) {
        resume.after[channel] = OLDEST_ID; // nothing acknowledged yet: all that is kept is unread
        resume.any = true;
      }
    }
  }
  return $multi(resume);
}

/**
 * Reads what the plan asks for, all channels merged in id order (equal ids in `channels` order),
 * and the channels whose cursor is older than the kept history.
 */
export function readBacklog(settings: Settings, channels: string[], resume: ResumePlan): LuaMultiReturn<[Backlog] | [undefined, Failure]> {
  const entries: StoredMessage[] = [];
  const [gaps, historyFailure] = messages.history(settings, channels, resume.after, resume.lastN, entries);
  if (gaps === undefined) {
    return $multi(undefined, historyFailure);
  }
  if (channels.length > 1) {
    // Ids are per channel: two channels can hold the same id (the same millisecond). Lua's sort is
    // not stable, so such ties go in the order of `channels`, the same on every read.
    const rank: Record<string, number> = {};
    for (let i = 0; i < channels.length; i++) {
      rank[channels[i]] = i;
    }
    entries.sort((a, b) => {
      const byId = compareIds(a.id, b.id);
      return byId !== 0 ? byId : rank[a.channel] - rank[b.channel];
    });
  }
  return $multi({ entries, gaps });
}

/**
 * A channel with no position yet enters the cursor at the time the stream subscribed, less this
 * margin (ms) for clocks that differ between gateway and Redis: resuming from there replays what
 * was published since, which this stream never sent.
 */
const CLOCK_MARGIN_MS = 2000;

/**
 * What a stream has sent, per channel: skips repeats and hands out the cursor after each message.
 * Every idle stream holds one, so it keeps one table, made at the first message or resume, and
 * shares the request's list of channels (the hub's subscriber reads the same): a change makes
 * a new list rather than changing that one.
 */
export class Tracker {
  /**
   * Per channel, the newest id sent (or the id it resumed after): older ids are repeats, and a
   * client resumes from there.
   */
  private lastSent: Record<string, string> | undefined;
  /** Where a channel with nothing sent resumes: the time the stream subscribed. */
  private readonly silentFrom: string;

  constructor(
    private channels: readonly string[],
    after: Record<string, string>,
  ) {
    this.silentFrom = `${math.floor(ngx.now() * 1000) - CLOCK_MARGIN_MS}-0`;
    for (const channel of channels) {
      const resumedAfter = after[channel];
      if (resumedAfter !== undefined) {
        this.lastSent ??= {};
        this.lastSent[channel] = resumedAfter;
      }
    }
  }

  /** True when `id` of `channel` is new to this stream (and records it). */
  accept(channel: string, id: string): boolean {
    const lastSent = (this.lastSent ??= {});
    const last = lastSent[channel];
    if (last !== undefined && compareIds(id, last) <= 0) {
      return false;
    }
    lastSent[channel] = id;
    return true;
  }

  /** Where to resume after the message just accepted: its id, or channel=id,... on several channels. */
  cursor(id: string): string {
    return this.channels.length === 1 ? id : this.current();
  }

  /**
   * Resumes `channel` after `after` (a WebSocket hello): what the client says it has is what
   * counts as sent, even when this stream sent more live meanwhile (the client did not get it). A
   * channel new to this stream joins its cursor.
   */
  resumeAfter(channel: string, after: string): void {
    if (!this.channels.includes(channel)) {
      this.add([channel]);
    }
    const lastSent = (this.lastSent ??= {});
    lastSent[channel] = after;
  }

  /** Channels a live stream subscribed (a WebSocket subscribe frame) join its cursor. */
  add(names: string[]): void {
    const channels = [...this.channels];
    for (const name of names) {
      if (!channels.includes(name)) {
        channels.push(name);
      }
    }
    this.channels = channels;
  }

  /** Channels a live stream unsubscribed leave its cursor. */
  remove(names: string[]): void {
    this.channels = this.channels.filter((name) => !names.includes(name));
  }

  /** Where each channel resumes now: after its newest id sent, or from the time the stream subscribed. */
  positions(): Record<string, string> {
    const after: Record<string, string> = {};
    const lastSent = this.lastSent ?? {};
    for (const channel of this.channels) {
      after[channel] = lastSent[channel] ?? this.silentFrom;
    }
    return after;
  }

  /** The channels of the stream, in cursor order. */
  channelList(): readonly string[] {
    return this.channels;
  }

  /** Where to resume now (long-poll's next request): channel=id for every channel. */
  current(): string {
    return formatCursor(this.channels, this.lastSent ?? {}, this.silentFrom);
  }
}

/**
 * A WebSocket hello in progress: live messages of the channels it holds wait in `deferred` until
 * the backlog after the hello's cursor has been sent, so order and exactly-once hold. Made on the
 * first hello: most streams never see one, and every idle stream's bytes count.
 */
export class Hello {
  private readonly held = new LuaTable<string, true>();
  private deferred: Array<[string, string, string, string]> | undefined;
  /** The positions and backlog of the hello that is ready to be sent; undefined while none is. */
  private ready: { after: Record<string, string>; backlog: Backlog } | undefined;

  /** Holds the live messages of `names` back until their backlog has gone out. */
  hold(names: string[]): void {
    for (const name of names) {
      this.held.set(name, true);
    }
  }

  /** Stops holding `names` (a hello that failed before its backlog was read). */
  release(names: string[]): void {
    for (const name of names) {
      this.held.delete(name);
    }
  }

  /** True when a live message of `channel` must wait (and keeps it). */
  defer(channel: string, data: string, id: string, event: string): boolean {
    if (!this.held.has(channel)) {
      return false;
    }
    this.deferred ??= [];
    this.deferred.push([channel, data, id, event]);
    return true;
  }

  /** The backlog after `after` is read: the stream's own thread sends it next (take()). */
  arrive(after: Record<string, string>, backlog: Backlog): void {
    this.ready = { after, backlog };
  }

  /**
   * What the stream sends now, when a hello's backlog has arrived: the positions to resume
   * after, the backlog, and the live messages held back meanwhile. Holds nothing afterwards.
   */
  take(): LuaMultiReturn<[Record<string, string>, Backlog, Array<[string, string, string, string]>] | [undefined]> {
    const ready = this.ready;
    if (ready === undefined) {
      return $multi(undefined);
    }
    const deferred = this.deferred ?? [];
    this.ready = undefined;
    this.deferred = undefined;
    for (const [name] of this.held) {
      this.held.delete(name);
    }
    return $multi(ready.after, ready.backlog, deferred);
  }
}
