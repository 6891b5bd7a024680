// Read state, kept in Redis per user: POST /ack?channel=c&id=<id> moves the user's read position
// on a channel forward (never back; an id newer than the channel's last message is a 400);
// GET /unread?key=a,b says how many kept messages of each channel come after it. A connection
// without a cursor then replays only what is unread.
// The user is the token's subject (its grant must cover the channels), or ?user=<id> with auth off.

import type { Settings } from "../config/schema";
import { fail, queryArg, UriArgs, uriArgs } from "../host/http";
import { quoteJson } from "../host/json";
import * as settingsHolder from "../host/settings";
import * as access from "../policy/access";
import { CHANNEL_RULE, isValidChannel, parseChannelList } from "../protocol/channel";
import { isValidId } from "../protocol/cursor";
import * as readstate from "../store/readstate";
import { inboxOf } from "../stream/resume";
import { failWith } from "./answer";
import { credentialsOf } from "./request";

/** The user whose read state `channels` are: the token's subject, or ?user= with auth off. */
function userOrFail(settings: Settings, channels: string[], args: UriArgs): string {
  const [identity, failure] = access.forSubscribe(settings, credentialsOf(settings, args), channels);
  if (identity === undefined) {
    return failWith(settings, failure);
  }
  const user = identity.user;
  if (user === undefined || !isValidChannel(inboxOf(user))) {
    return fail(400, `no valid user: give ?user=<id>, ${CHANNEL_RULE} (with user: before it, at most 128)`);
  }
  return user;
}

export function handleAck(): void {
  const settings = settingsHolder.get();
  if (ngx.req.get_method() !== "POST") {
    ngx.header.set("Allow", "POST");
    return fail(405, "use POST /ack?channel=<channel>&id=<message id>");
  }
  const args = uriArgs();
  const channel = queryArg(args, "channel") ?? "";
  if (!isValidChannel(channel)) {
    return fail(400, `invalid channel name: a name is ${CHANNEL_RULE}`);
  }
  const user = userOrFail(settings, [channel], args);
  const id = queryArg(args, "id") ?? "";
  if (!isValidId(id)) {
    return fail(400, "invalid id: a message id like 1700000000000-0");
  }
  const [position, failure] = readstate.acknowledge(settings, user, channel, id);
  if (position === undefined) {
    return failWith(settings, failure);
  }
  ngx.header.set("Content-Type", "application/json");
  ngx.print(`{"channel":${quoteJson(channel)},"read":${quoteJson(position)}}\n`);
}

export function handleUnread(): void {
  const settings = settingsHolder.get();
  const args = uriArgs();
  const [channels, channelErr] = parseChannelList(queryArg(args, "key") ?? "", settings.maxChannels);
  if (channels === undefined) {
    return fail(400, channelErr);
  }
  const user = userOrFail(settings, channels, args);
  const [counts, failure] = readstate.unread(settings, user, channels);
  if (counts === undefined) {
    return failWith(settings, failure);
  }
  const parts: string[] = [];
  for (let i = 0; i < channels.length; i++) {
    parts.push(`${quoteJson(channels[i])}:${counts[i]}`);
  }
  ngx.header.set("Content-Type", "application/json");
  ngx.print(`{"unread":{${parts.join(",")}}}\n`);
}
