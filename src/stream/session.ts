// A duplex stream (WebSocket): the pump writes what the subscription brings while the transport's
// reader answers the client's frames through a Session — subscribe, unsubscribe, hello (resume),
// ack, publish and refresh (a new token) — all checked here as on their HTTP twins. When either
// thread ends, so does the other.

import type { Settings } from "../config/schema";
import * as metrics from "../host/metrics";
import * as presence from "../store/presence";
import { grantAllows } from "../auth/grant";
import * as access from "../policy/access";
import { Failure, failure } from "../protocol/failure";
import { isValidId } from "../protocol/cursor";
import type { Published } from "../protocol/published";
import * as readstate from "../store/readstate";
import type { DuplexTransport, Session } from "../transport/transport";
import * as control from "./control";
import { finish, open, Stream, StreamRequest } from "./open";
import { pumpSafely } from "./pump";
import { publishAs } from "./publish";
import { Hello, readBacklog } from "./resume";

/** The channels of a duplex stream, changed at run time by its transport's reader. */
class LiveSession implements Session {
  readonly channels = new LuaTable<string, true>();
  private count = 0;
  /** Who publishes on this connection: verified at the first publish frame, then kept. */
  private publisher: access.Publisher | undefined;

  constructor(
    private readonly stream: Stream,
    private readonly credentials: access.Credentials,
    private readonly settings: Settings,
    initial: string[],
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
    const [granted, refusal] = access.mayRead(this.stream.identity, fresh);
    if (granted === undefined) {
      return $multi(undefined, refusal);
    }
    const maxChannels = this.settings.maxChannels;
    if (this.count + fresh.length > maxChannels) {
      return $multi(undefined, `too many channels: at most ${maxChannels} per connection`);
    }
    const mode = this.stream.mode;
    const [added, err] = mode.add(this.stream.subscription, fresh);
    if (added === undefined) {
      mode.remove(this.stream.subscription, fresh); // whatever Redis confirmed late
      return $multi(undefined, err);
    }
    const revoked = this.stream.revoked;
    for (const name of fresh) {
      this.channels.set(name, true);
      revoked?.delete(name);
    }
    this.count += fresh.length;
    this.stream.tracker.add(fresh);
    presence.addChannels(this.stream.subscription, fresh);
    return $multi(true);
  }

  refresh(token: string): LuaMultiReturn<[number | undefined, string[]] | [undefined, string]> {
    const [identity, refusal] = access.forRefresh(this.settings, this.stream.identity, token);
    if (identity === undefined) {
      return $multi(undefined, refusal.message);
    }
    const refused = control.admit(this.settings, identity.user, identity.jti, identity.issued);
    if (refused !== undefined) {
      return $multi(undefined, refused.message);
    }
    // The pump reads the identity at each turn: the new expiry holds from now on.
    this.stream.identity = identity;
    this.credentials.token = token;
    this.publisher = undefined; // verified again, with the new token, at the next publish
    const revoked: string[] = [];
    const grants = identity.grants;
    if (grants !== undefined) {
      for (const [name] of this.channels) {
        if (!grantAllows(grants, name)) {
          revoked.push(name);
        }
      }
    }
    if (revoked.length > 0) {
      this.remove(revoked);
      // What was queued or on its way before the unsubscribe is not delivered either.
      const set = (this.stream.revoked ??= new LuaTable<string, true>());
      for (const name of revoked) {
        set.set(name, true);
      }
    }
    return $multi(identity.expires, revoked);
  }

  resume(after: Record<string, string>): LuaMultiReturn<[true] | [undefined, string]> {
    const names = Object.keys(after);
    const hello = (this.stream.hello ??= new Hello());
    hello.hold(names);
    // live first (new channels are subscribed here), then the backlog: nothing falls between
    const [added, addErr] = this.add(names);
    if (added === undefined) {
      hello.release(names);
      return $multi(undefined, addErr);
    }
    const [backlog, readFailure] = readBacklog(this.settings, names, { after, lastN: 0, any: true });
    if (backlog === undefined) {
      hello.release(names);
      return $multi(undefined, readFailure.message);
    }
    hello.arrive(after, backlog);
    this.stream.mode.wake(this.stream.subscription);
    return $multi(true);
  }

  ack(channel: string, id: string): LuaMultiReturn<[string] | [undefined, string]> {
    const user = this.stream.identity.user;
    if (user === undefined) {
      return $multi(undefined, "ack needs a user: the token's subject, or ?user= on the upgrade with grants off");
    }
    const [granted, refusal] = access.mayRead(this.stream.identity, [channel]);
    if (granted === undefined) {
      return $multi(undefined, refusal);
    }
    if (!isValidId(id)) {
      return $multi(undefined, "invalid id: a message id like 1700000000000-0");
    }
    const [position, ackFailure] = readstate.acknowledge(this.settings, user, channel, id);
    if (position === undefined) {
      return $multi(undefined, ackFailure.message);
    }
    return $multi(position);
  }

  publish(channel: string, data: string, event: string | undefined, idempotencyKey: string | undefined): LuaMultiReturn<[Published] | [undefined, string]> {
    let publisher = this.publisher;
    if (publisher === undefined) {
      // The connection's own grant (its token's or the app's), else its credential as POST /pub takes it.
      publisher = access.publisherOf(this.stream.identity);
      if (publisher === undefined) {
        const [verified, refusal] = access.forPublish(this.settings, this.credentials);
        if (verified === undefined) {
          return $multi(undefined, refusal.message);
        }
        publisher = verified;
      }
      this.publisher = publisher;
    }
    const [published, publishFailure] = publishAs(this.settings, publisher, channel, data, { event, idempotencyKey });
    metrics.published(published === undefined ? publishFailure.kind : undefined);
    if (published === undefined) {
      return $multi(undefined, publishFailure.message);
    }
    return $multi(published);
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
      this.stream.mode.remove(this.stream.subscription, gone);
      this.stream.tracker.remove(gone);
      presence.removeChannels(this.stream.subscription, gone);
    }
  }
}

function readerThread(this: void, transport: DuplexTransport, session: Session): void {
  const [ok, err] = pcall(() => transport.read(session));
  if (!ok) {
    ngx.log(ngx.ERR, "stream reader failed: ", tostring(err));
    transport.close("internal");
  }
}

/** Streams `request` to a duplex `transport` whose client may change its channels. */
export function serveDuplex(request: StreamRequest, transport: DuplexTransport, settings: Settings): Failure | undefined {
  const [stream, openFailure] = open(settings, request);
  if (stream === undefined) {
    return openFailure;
  }
  const [opened, openErr] = transport.open();
  if (opened === undefined) {
    finish(stream, settings);
    if (!ngx.headers_sent) {
      return failure("invalid", openErr); // e.g. a handshake the request does not fit
    }
    ngx.log(ngx.INFO, "stream not opened: ", openErr);
    return undefined;
  }
  // A raw socket gets no ngx.on_abort: the reader sees the client go.
  const session = new LiveSession(stream, request.credentials, settings, request.channels);
  const pumping = ngx.thread.spawn(pumpSafely, transport, settings, stream);
  const reading = ngx.thread.spawn(readerThread, transport, session);
  ngx.thread.wait(pumping, reading);
  ngx.thread.kill(pumping);
  ngx.thread.kill(reading);
  finish(stream, settings);
  return undefined;
}
