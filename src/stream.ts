// The core every streaming transport shares: subscribe through the configured mode, then copy
// events to the transport until the client goes away, Redis goes away, or nginx shuts down.

import type { Settings } from "./config/schema";
import { fail, UriArgs } from "./host/http";
import * as direct from "./subscribe/direct";
import type { SubscriptionMode } from "./subscribe/mode";
import * as shared from "./subscribe/shared";
import type { Batch, DuplexTransport, Session, Transport } from "./transport/transport";
import * as auth from "./host/auth";
import { acknowledge } from "./readstate";
import { BacklogEntry, planFromRequest, readBacklog, Tracker } from "./resume";

/** Where a stream starts: what it must send before going live, and its exactly-once bookkeeping. */
interface Start {
  identity: auth.Identity;
  tracker: Tracker;
  /** What to send before going live; dropped once sent (a stream lives long, its backlog need not). */
  backlog: BacklogEntry[] | undefined;
  gaps: string[] | undefined;
  ended: boolean;
  /**
   * A WebSocket hello in progress: live messages of `hold`ing channels wait in `deferred` until
   * the backlog after the hello's cursor (`catchup`) has been sent, so order and exactly-once hold.
   * Made on the first hello: most streams never see one, and every idle stream's bytes count.
   */
  hold: LuaTable<string, true> | undefined;
  deferred: Array<[string, string, string, string]> | undefined;
  catchup: Catchup | undefined;
}

interface Catchup {
  after: Record<string, string>;
  entries: BacklogEntry[];
  gaps: string[];
}

function gapText(channel: string): string {
  return `messages of ${channel} after the cursor are no longer kept: the cursor is older than the history`;
}

/**
 * Registers for live messages first, then reads what the request resumes from (cursor, last N,
 * read positions). On failure it answers the request (400, 503) and does not return.
 */
function begin<S>(mode: SubscriptionMode<S>, channels: string[], settings: Settings, args: UriArgs): LuaMultiReturn<[S, Start]> {
  const [identity, authStatus, authMessage] = auth.forSubscribe(settings, channels, args);
  if (identity === undefined) {
    if (authStatus === 401) {
      ngx.header.set("WWW-Authenticate", 'Bearer realm="pushgate"');
    }
    return fail(authStatus, authMessage);
  }
  if (!auth.openConnection(settings, identity.user)) {
    return fail(429, `too many connections for this user: at most ${settings.maxConnectionsPerUser}`);
  }
  const [plan, status, message] = planFromRequest(channels, settings, identity.user, args);
  if (plan === undefined) {
    auth.closeConnection(settings, identity.user);
    return fail(status, message, status === 503 ? settings.retryAfterSeconds : undefined);
  }
  const [subscription, subscribeErr] = mode.open(channels, settings);
  if (subscription === undefined) {
    auth.closeConnection(settings, identity.user);
    ngx.log(ngx.ERR, `${subscribeErr}`);
    return fail(503, "redis is unavailable, try again later", settings.retryAfterSeconds);
  }
  let backlog: BacklogEntry[] | undefined;
  let gaps: string[] | undefined;
  if (plan.any) {
    const [entries, gapsOrErr] = readBacklog(settings, channels, plan);
    if (entries === undefined) {
      mode.close(subscription);
      auth.closeConnection(settings, identity.user);
      ngx.log(ngx.ERR, `${gapsOrErr}`);
      return fail(503, "redis is unavailable, try again later", settings.retryAfterSeconds);
    }
    const found = gapsOrErr as string[];
    backlog = entries.length > 0 ? entries : undefined;
    gaps = found.length > 0 ? found : undefined;
  }
  return $multi(subscription, {
    identity,
    tracker: new Tracker(channels, plan.after),
    backlog,
    gaps,
    ended: false,
    hold: undefined,
    deferred: undefined,
    catchup: undefined,
  });
}

/** Releases what begin() took: the subscription and the user's connection slot. Safe twice. */
function finish<S>(mode: SubscriptionMode<S>, subscription: S, start: Start, settings: Settings): void {
  mode.close(subscription);
  if (!start.ended) {
    start.ended = true;
    auth.closeConnection(settings, start.identity.user);
  }
}

/** Sends the gap notices and the backlog; false when the client is gone. */
function catchUp(transport: Transport, start: Start): boolean {
  const gaps = start.gaps ?? [];
  const backlog = start.backlog ?? [];
  start.gaps = undefined;
  start.backlog = undefined;
  for (const channel of gaps) {
    const [written] = transport.notice("gap", gapText(channel));
    if (written === undefined) {
      return false;
    }
  }
  for (const entry of backlog) {
    if (start.tracker.accept(entry.channel, entry.id)) {
      const event = entry.event !== "" ? entry.event : undefined;
      const [written] = transport.message(entry.channel, entry.data, entry.id, event, start.tracker.cursor(entry.id));
      if (written === undefined) {
        return false;
      }
    }
  }
  return true;
}

/** Sends what a hello asked for, then the live messages held back meanwhile; false when the client is gone. */
function catchUpHello(transport: Transport, start: Start, catchup: Catchup): boolean {
  const tracker = start.tracker;
  for (const channel of Object.keys(catchup.after)) {
    tracker.resumeAfter(channel, catchup.after[channel]);
  }
  const deferred = start.deferred ?? [];
  start.catchup = undefined;
  start.deferred = undefined;
  start.hold = undefined;
  // the stream's own backlog went out before it went live: catchUp sends and drops this one too
  start.backlog = catchup.entries;
  start.gaps = catchup.gaps;
  const ok = catchUp(transport, start);
  if (!ok) {
    return false;
  }
  for (const [channel, data, id, event] of deferred) {
    if (tracker.accept(channel, id)) {
      const [written] = transport.message(channel, data, id, event !== "" ? event : undefined, tracker.cursor(id));
      if (written === undefined) {
        return false;
      }
    }
  }
  return true;
}

function pump<S>(mode: SubscriptionMode<S>, subscription: S, transport: Transport, settings: Settings, start: Start): void {
  if (!catchUp(transport, start)) {
    return;
  }
  const tracker = start.tracker;
  const expires = start.identity.expires;
  const heartbeatMs = settings.heartbeatSeconds * 1000;
  const waitMs = mode.waitMs(heartbeatMs);
  let idleMs = 0;
  for (;;) {
    let wait = waitMs;
    if (expires !== undefined) {
      const leftMs = (expires - ngx.now()) * 1000;
      if (leftMs <= 0) {
        transport.close("token expired", false);
        return;
      }
      wait = math.min(wait, leftMs + 1);
    }
    const [kind, a, b, id, event] = mode.next(subscription, wait);
    const catchup = start.catchup;
    if (catchup !== undefined && !catchUpHello(transport, start, catchup)) {
      return;
    }
    if (kind === "wake") {
      // woken for a hello's catch-up (done above) or a channel confirmed
    } else if (kind === "message" && id !== "" && start.hold !== undefined && start.hold.has(a)) {
      start.deferred ??= [];
      start.deferred.push([a, b, id, event]); // its channel's backlog goes first
    } else if (kind === "message") {
      idleMs = 0;
      if (id === "") {
        const [written] = transport.message(a, b, undefined);
        if (written === undefined) {
          return; // the client is gone
        }
      } else if (tracker.accept(a, id)) {
        const [written] = transport.message(a, b, id, event !== "" ? event : undefined, tracker.cursor(id));
        if (written === undefined) {
          return;
        }
      }
    } else if (kind === "timeout") {
      if (ngx.worker.exiting()) {
        transport.close("server restart", true);
        return;
      }
      idleMs += wait;
      if (idleMs >= heartbeatMs) {
        idleMs = 0;
        const [written] = transport.heartbeat();
        if (written === undefined) {
          return;
        }
      }
    } else if (kind === "notice") {
      idleMs = 0;
      const [written] = transport.notice(a, b);
      if (written === undefined) {
        return;
      }
    } else if (kind === "lost") {
      ngx.log(ngx.WARN, "redis subscription ended: ", a);
      transport.close("redis connection lost", true);
      return;
    } else if (kind === "overflow") {
      transport.close(a, true);
      return;
    } else {
      transport.close("server restart", true);
      return;
    }
  }
}

function serveWith<S>(mode: SubscriptionMode<S>, channels: string[], transport: Transport, settings: Settings, args: UriArgs): void {
  const [subscription, start] = begin(mode, channels, settings, args);
  ngx.on_abort(() => {
    // ngx.exit ends every thread of the request; release the subscription first.
    finish(mode, subscription, start, settings);
    ngx.exit(499);
  });
  const [opened] = transport.open();
  if (opened !== undefined) {
    const [ok, err] = pcall(pump, mode, subscription, transport, settings, start);
    if (!ok) {
      ngx.log(ngx.ERR, "stream failed: ", tostring(err));
    }
  }
  finish(mode, subscription, start, settings);
}

/** The configured subscription mode; its subscriptions are opaque here, only the mode reads them. */
function configuredMode(settings: Settings): SubscriptionMode<unknown> {
  return settings.mode === "shared" ? shared : direct;
}

/** Streams `channels` to `transport` in the configured subscription mode. */
export function serve(channels: string[], transport: Transport, settings: Settings, args: UriArgs): void {
  serveWith(configuredMode(settings), channels, transport, settings, args);
}

/** The channels of a duplex stream, changed at run time by its transport's reader. */
class LiveSession<S> implements Session {
  readonly channels = new LuaTable<string, true>();
  private count = 0;

  constructor(
    private readonly mode: SubscriptionMode<S>,
    private readonly subscription: S,
    private readonly maxChannels: number,
    initial: string[],
    private readonly identity: auth.Identity,
    private readonly settings: Settings,
    private readonly start: Start,
  ) {
    for (const name of initial) {
      this.channels.set(name, true);
    }
    this.count = initial.length;
  }

  add(names: string[]): LuaMultiReturn<[true] | [undefined, string]> {
    const fresh: string[] = [];
    for (const name of names) {
      if (!this.channels.has(name)) {
        fresh.push(name);
      }
    }
    if (fresh.length === 0) {
      return $multi(true);
    }
    const [granted, refusal] = auth.mayRead(this.identity, fresh);
    if (granted === undefined) {
      return $multi(undefined, refusal);
    }
    if (this.count + fresh.length > this.maxChannels) {
      return $multi(undefined, `too many channels: at most ${this.maxChannels} per connection`);
    }
    const [added, err] = this.mode.add(this.subscription, fresh);
    if (added === undefined) {
      this.mode.remove(this.subscription, fresh); // whatever Redis confirmed late
      return $multi(undefined, err);
    }
    for (const name of fresh) {
      this.channels.set(name, true);
    }
    this.count += fresh.length;
    return $multi(true);
  }

  resume(after: Record<string, string>): LuaMultiReturn<[true] | [undefined, string]> {
    const names = Object.keys(after);
    const hold = (this.start.hold ??= new LuaTable());
    for (const name of names) {
      hold.set(name, true);
    }
    const release = (): void => {
      for (const name of names) {
        hold.delete(name);
      }
    };
    // live first (new channels are subscribed here), then the backlog: nothing falls between
    const [added, addErr] = this.add(names);
    if (added === undefined) {
      release();
      return $multi(undefined, addErr);
    }
    const [entries, gapsOrErr] = readBacklog(this.settings, names, { after, lastN: 0, any: true });
    if (entries === undefined) {
      release();
      ngx.log(ngx.ERR, `${gapsOrErr}`);
      return $multi(undefined, "redis is unavailable, try again later");
    }
    this.start.catchup = { after, entries, gaps: gapsOrErr as string[] };
    this.mode.wake(this.subscription);
    return $multi(true);
  }

  ack(channel: string, id: string): LuaMultiReturn<[string] | [undefined, string]> {
    const user = this.identity.user;
    if (user === undefined) {
      return $multi(undefined, "ack needs a user: the token's subject, or ?user= on the upgrade with grants off");
    }
    const [granted, refusal] = auth.mayRead(this.identity, [channel]);
    if (granted === undefined) {
      return $multi(undefined, refusal);
    }
    const [position, , failure] = acknowledge(this.settings, user, channel, id);
    if (position === undefined) {
      return $multi(undefined, failure);
    }
    return $multi(position);
  }

  remove(names: string[]): void {
    const gone: string[] = [];
    for (const name of names) {
      if (this.channels.has(name)) {
        this.channels.delete(name);
        gone.push(name);
      }
    }
    if (gone.length > 0) {
      this.count -= gone.length;
      this.mode.remove(this.subscription, gone);
    }
  }
}

function pumpThread<S>(this: void, mode: SubscriptionMode<S>, subscription: S, transport: Transport, settings: Settings, start: Start): void {
  const [ok, err] = pcall(pump, mode, subscription, transport, settings, start);
  if (!ok) {
    ngx.log(ngx.ERR, "stream failed: ", tostring(err));
  }
}

function readerThread(this: void, transport: DuplexTransport, session: Session): void {
  const [ok, err] = pcall(() => transport.read(session));
  if (!ok) {
    ngx.log(ngx.ERR, "stream reader failed: ", tostring(err));
    transport.close("internal error", false);
  }
}

function serveDuplexWith<S>(mode: SubscriptionMode<S>, channels: string[], transport: DuplexTransport, settings: Settings, args: UriArgs): void {
  const [subscription, start] = begin(mode, channels, settings, args);
  const [opened, openErr] = transport.open();
  if (opened === undefined) {
    finish(mode, subscription, start, settings);
    if (!ngx.headers_sent) {
      return fail(400, openErr); // e.g. a handshake the request does not fit
    }
    ngx.log(ngx.INFO, "stream not opened: ", openErr);
    return;
  }
  // The pump writes what the subscription brings, the reader answers the client; when either
  // ends, so does the other. (A raw socket gets no ngx.on_abort: the reader sees the client go.)
  const session = new LiveSession(mode, subscription, settings.maxChannels, channels, start.identity, settings, start);
  const pumping = ngx.thread.spawn(pumpThread, mode, subscription, transport, settings, start);
  const reading = ngx.thread.spawn(readerThread, transport, session);
  ngx.thread.wait(pumping, reading);
  ngx.thread.kill(pumping);
  ngx.thread.kill(reading);
  finish(mode, subscription, start, settings);
}

/** Streams `channels` to a duplex `transport` whose client may change them (WebSocket). */
export function serveDuplex(channels: string[], transport: DuplexTransport, settings: Settings, args: UriArgs): void {
  serveDuplexWith(configuredMode(settings), channels, transport, settings, args);
}

/**
 * Waits up to `timeoutMs` for a first event, then takes what else is queued at that moment.
 * Returns "lost" when Redis went away before anything came.
 */
function collect<S>(mode: SubscriptionMode<S>, subscription: S, batch: Batch, timeoutMs: number, maxItems: number, start: Start): string {
  const deadline = ngx.now() + timeoutMs / 1000;
  const tracker = start.tracker;
  let items = 0;
  for (const channel of start.gaps ?? []) {
    batch.notice("gap", gapText(channel));
    items += 1;
  }
  for (const entry of start.backlog ?? []) {
    if (items < maxItems && tracker.accept(entry.channel, entry.id)) {
      batch.message(entry.channel, entry.data, entry.id, entry.event !== "" ? entry.event : undefined);
      items += 1;
    }
  }
  for (;;) {
    let waitMs = 0;
    if (items === 0) {
      // Below a millisecond a wait returns without yielding, and ngx.now() would not move on.
      const remainingMs = (deadline - ngx.now()) * 1000;
      if (remainingMs < 1) {
        return "timeout";
      }
      waitMs = math.min(mode.waitMs(remainingMs), remainingMs);
    }
    const [kind, a, b, id, event] = mode.next(subscription, waitMs);
    if (kind === "message") {
      if (id === "") {
        batch.message(a, b, undefined);
        items += 1;
      } else if (tracker.accept(a, id)) {
        batch.message(a, b, id, event !== "" ? event : undefined);
        items += 1;
      }
    } else if (kind === "notice") {
      batch.notice(a, b);
      items += 1;
    } else if (kind === "wake") {
      // nothing to take: wait again
    } else if (kind === "timeout") {
      if (items > 0 || ngx.worker.exiting()) {
        return "done";
      }
    } else {
      return kind === "lost" && items === 0 ? "lost" : "done";
    }
    if (items >= maxItems) {
      return "done";
    }
  }
}

function pollWith<S>(mode: SubscriptionMode<S>, channels: string[], batch: Batch, settings: Settings, timeoutMs: number, args: UriArgs): void {
  const [subscription, start] = begin(mode, channels, settings, args);
  ngx.on_abort(() => {
    finish(mode, subscription, start, settings);
    ngx.exit(499);
  });
  const [ok, outcome] = pcall(collect, mode, subscription, batch, timeoutMs, settings.queueMessages, start);
  finish(mode, subscription, start, settings);
  if (!ok) {
    ngx.log(ngx.ERR, "long-poll failed: ", tostring(outcome));
    return fail(500, "internal error");
  }
  if (outcome === "lost") {
    ngx.log(ngx.WARN, "redis subscription ended during a long-poll");
    return fail(503, "redis is unavailable, try again later", settings.retryAfterSeconds);
  }
  // The next poll continues from here: one position per channel.
  batch.finish(start.tracker.current());
}

/** Long-poll: answers `batch` with the first messages on `channels`, or empty after `timeoutMs`. */
export function poll(channels: string[], batch: Batch, settings: Settings, timeoutMs: number, args: UriArgs): void {
  pollWith(configuredMode(settings), channels, batch, settings, timeoutMs, args);
}
