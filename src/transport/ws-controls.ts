// What a WebSocket control frame asks of the stream's session (protocol/ws.ts parses it):
// subscribe, unsubscribe, publish, ack, refresh and hello carried out through the core's Session,
// and the frame that answers each. The transport (websocket.ts) reads the frames and writes the
// answers; this decides them.

import { quoteJson } from "../host/json";
import { isValidChannel } from "../protocol/channel";
import { helloPositions } from "../protocol/cursor";
import { ackedFrame, channelsFrame, Control, errorFrame, pongFrame, publishedFrame, Ref, refreshedFrame, revokedFrame } from "../protocol/ws";
import type { Session } from "./transport";

/** Carries out a valid control frame; returns the frame that answers it (`notify` sends frames that come before it). */
export function perform(control: Control, session: Session, notify: (frame: string) => void): string {
  const ref = control.ref;
  if (control.type === "ping") {
    return pongFrame(ref, quoteJson);
  }
  if (control.type === "subscribe") {
    // The session checks the token's channel grant (as at connect).
    const [added, err] = session.add(control.channels);
    if (added === undefined) {
      return errorFrame(err, ref, quoteJson);
    }
    return channelsFrame("subscribed", control.channels, ref, quoteJson);
  }
  if (control.type === "unsubscribe") {
    session.remove(control.channels);
    return channelsFrame("unsubscribed", control.channels, ref, quoteJson);
  }
  if (control.type === "publish") {
    // Checked as POST /pub is: the connection's credential, grant, rate and size.
    const [published, err] = session.publish(control.channel, control.data, control.event, control.idempotencyKey);
    if (published === undefined) {
      return errorFrame(err, ref, quoteJson);
    }
    return publishedFrame(control.channel, published.id, published.subscribers, published.duplicate, ref, quoteJson);
  }
  if (control.type === "ack") {
    const [read, err] = session.ack(control.channel, control.id);
    if (read === undefined) {
      return errorFrame(err, ref, quoteJson);
    }
    return ackedFrame(control.channel, read, ref, quoteJson);
  }
  if (control.type === "refresh") {
    return refresh(control.token, ref, session, notify);
  }
  // hello: resume channels from a cursor (subscribing the ones not yet subscribed)
  if (control.type !== "hello") {
    return errorFrame("unknown control frame", ref, quoteJson); // every other type was handled above
  }
  const subscribed: string[] = [];
  for (const [name] of session.channels) {
    subscribed.push(name);
  }
  const [after, cursorErr] = helloPositions(control.cursor, control.cursors, subscribed);
  if (after === undefined) {
    return errorFrame(cursorErr, ref, quoteJson);
  }
  const names = Object.keys(after);
  for (const name of names) {
    if (!isValidChannel(name)) {
      return errorFrame(`invalid cursor: "${name}" is not a channel name`, ref, quoteJson);
    }
  }
  const [resumed, resumeErr] = session.resume(after);
  if (resumed === undefined) {
    return errorFrame(resumeErr, ref, quoteJson);
  }
  return channelsFrame("resumed", names, ref, quoteJson);
}

/** A new token for the connection: a notice per channel it no longer grants, then the answer. */
function refresh(token: string, ref: Ref, session: Session, notify: (frame: string) => void): string {
  const [expires, revoked] = session.refresh(token);
  if (typeof revoked === "string") {
    return errorFrame(revoked, ref, quoteJson);
  }
  for (const channel of revoked) {
    notify(revokedFrame(channel, quoteJson));
  }
  return refreshedFrame(expires, ref, quoteJson);
}
