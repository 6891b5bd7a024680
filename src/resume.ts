// Resume without loss: where a stream starts (a cursor, the last N, or a user's read positions),
// and the bookkeeping that makes it exactly-once. The core registers for live messages first,
// then reads the backlog after the cursor, then drains the live queue skipping ids already sent:
// nothing published during the handshake is lost, nothing is sent twice, order is kept per channel.

import { historyRuleFor, Settings } from "./config/schema";
import * as functions from "./host/functions";
import { queryArg, UriArgs } from "./host/http";
import * as redis from "./host/redis";
import { compareIds, formatCursor, OLDEST_ID, parseCursor } from "./protocol/cursor";
import { metaKey, readKey, streamKey } from "./protocol/keys";

export interface ResumePlan {
  /** Channel -> the id to resume after ("0-0": everything kept). */
  after: Record<string, string>;
  /** The last N messages of each channel that has no position (?backlog=N); 0: none. */
  lastN: number;
  /** True when anything must be read before going live. */
  any: boolean;
}

export interface BacklogEntry {
  channel: string;
  id: string;
  event: string;
  data: string;
}

/** The inbox channel of a user. */
export function inboxOf(user: string): string {
  return `user:${user}`;
}

/**
 * Reads where the request resumes: ?since= or ?last_event_id= or the Last-Event-ID header (a
 * cursor), ?backlog=N, or else the user's read positions (and its inbox from the oldest unread).
 * Returns the plan, or undefined, a status (400 or 503) and a message.
 */
export function planFromRequest(
  channels: string[],
  settings: Settings,
  user: string | undefined,
  args: UriArgs,
): LuaMultiReturn<[ResumePlan] | [undefined, number, string]> {
  const plan: ResumePlan = { after: {}, lastN: 0, any: false };
  // Last-Event-ID first: an EventSource that reconnects by itself sends the newest id there, while
  // its URL still carries the ?since= it was opened with.
  const raw = ngx.var.get("http_last_event_id") ?? queryArg(args, "since") ?? queryArg(args, "last_event_id");
  if (raw !== undefined && raw.length > 0) {
    const [positions, err] = parseCursor(raw, channels);
    if (positions === undefined) {
      return $multi(undefined, 400, err);
    }
    plan.after = positions;
    plan.any = true;
  }
  const backlog = queryArg(args, "backlog");
  if (backlog !== undefined) {
    const n = tonumber(backlog);
    if (n === undefined || n < 1 || n > 1000000 || math.floor(n) !== n) {
      return $multi(undefined, 400, "invalid backlog: an integer from 1 to 1000000");
    }
    plan.lastN = n;
    plan.any = true;
  }
  // A WebSocket may connect with no channel yet: then there are no positions to read.
  if (!plan.any && user !== undefined && channels.length > 0) {
    const [red, connectErr] = redis.connect(settings.redis[0], settings.redisTimeoutMs, undefined, true);
    if (red === undefined) {
      ngx.log(ngx.ERR, connectErr);
      return $multi(undefined, 503, "redis is unavailable, try again later");
    }
    const [read, readErr] = red.hmget(readKey(user), ...channels);
    if (read === undefined || read === false) {
      red.close();
      ngx.log(ngx.ERR, "failed to read positions: ", `${readErr}`);
      return $multi(undefined, 503, "redis is unavailable, try again later");
    }
    redis.release(red);
    const inbox = inboxOf(user);
    for (let i = 0; i < channels.length; i++) {
      const position = read[i];
      if (typeof position === "string") {
        plan.after[channels[i]] = position;
        plan.any = true;
      } else if (channels[i] === inbox) {
        plan.after[channels[i]] = OLDEST_ID; // nothing acknowledged yet: all that is kept is unread
        plan.any = true;
      }
    }
  }
  return $multi(plan);
}

/**
 * Reads what the plan asks for, all channels merged in id order (equal ids in `channels` order),
 * and the channels whose cursor is older than the kept history (a gap). Returns entries and gaps, or undefined and an error.
 */
export function readBacklog(settings: Settings, channels: string[], plan: ResumePlan): LuaMultiReturn<[BacklogEntry[], string[]] | [undefined, string]> {
  const [red, connectErr] = redis.connect(settings.redis[0], settings.redisTimeoutMs, undefined, true);
  if (red === undefined) {
    return $multi(undefined, connectErr);
  }
  const entries: BacklogEntry[] = [];
  const gaps: string[] = [];
  for (const channel of channels) {
    const after = plan.after[channel];
    if (after !== undefined || plan.lastN > 0) {
      const rule = historyRuleFor(settings.history, channel);
      const limit = rule !== undefined ? rule.length : 1000;
      const [reply, err, lost] = functions.call(
        red,
        "pushgate_history",
        [streamKey(channel), metaKey(channel)],
        [after ?? "", `${after !== undefined ? limit : math.min(plan.lastN, limit)}`, `${rule !== undefined ? rule.seconds * 1000 : 0}`],
      );
      if (reply === undefined) {
        redis.release(red, lost === true);
        return $multi(undefined, `failed to read history: ${err}`);
      }
      const [gap, items] = reply as [number, Array<[string, string, string]>];
      if (gap === 1) {
        gaps.push(channel);
      }
      for (const [id, data, event] of items) {
        entries.push({ channel, id, data, event });
      }
    }
  }
  redis.release(red);
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
  return $multi(entries, gaps);
}

/**
 * A channel with no position yet enters the cursor at the time the stream subscribed, less this
 * margin (ms) for clocks that differ between gateway and Redis: resuming from there replays what
 * was published since, which this stream never sent.
 */
const CLOCK_MARGIN_MS = 2000;

/**
 * What a stream has sent, per channel: skips repeats and hands out the cursor after each message.
 * Every idle stream holds one, so it keeps one table, made at the first message or resume.
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
    private readonly channels: string[],
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
   * Resumes `channel` after `after` (a WebSocket hello): ids up to it count as sent. A channel
   * new to this stream joins its cursor.
   */
  resumeAfter(channel: string, after: string): void {
    if (!this.channels.includes(channel)) {
      this.channels.push(channel);
    }
    const lastSent = (this.lastSent ??= {});
    const last = lastSent[channel];
    if (last === undefined || compareIds(after, last) > 0) {
      lastSent[channel] = after;
    }
  }

  /** Where to resume now (long-poll's next request): channel=id for every channel. */
  current(): string {
    return formatCursor(this.channels, this.lastSent ?? {}, this.silentFrom);
  }
}
