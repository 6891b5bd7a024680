// Read state, kept in Redis per user: POST /ack?channel=c&id=<id> moves the user's read position
// on a channel forward (never back); GET /unread?key=a,b says how many kept messages of each
// channel come after it. A connection without a cursor then replays only what is unread.
// The user is the token's subject (its grant must cover the channels), or ?user=<id> with auth off.

import { historyRuleFor, Settings } from "./config/schema";
import { fail, queryArg, UriArgs, uriArgs } from "./host/http";
import * as functions from "./host/functions";
import { quoteJson } from "./host/json";
import * as redis from "./host/redis";
import * as settingsHolder from "./host/settings";
import { isValidChannel, parseChannelList, CHANNEL_RULE } from "./protocol/channel";
import { readKey, streamKey } from "./protocol/keys";
import * as auth from "./host/auth";
import { acknowledge } from "./readstate";
import { inboxOf } from "./resume";

/** The user whose read state `channels` are: the token's subject, or ?user= with auth off. */
function userOrFail(settings: Settings, channels: string[], args: UriArgs): string {
  const [identity, status, message] = auth.forSubscribe(settings, channels, args);
  if (identity === undefined) {
    return fail(status, message);
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
  const [position, status, failure] = acknowledge(settings, user, channel, queryArg(args, "id") ?? "");
  if (position === undefined) {
    return fail(status, failure, status === 503 ? settings.retryAfterSeconds : undefined);
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
  const [red, connectErr] = redis.connect(settings.redis[0], settings.redisTimeoutMs, undefined, true);
  if (red === undefined) {
    ngx.log(ngx.ERR, connectErr);
    return fail(503, "redis is unavailable, try again later", settings.retryAfterSeconds);
  }
  const parts: string[] = [];
  for (const channel of channels) {
    const rule = historyRuleFor(settings.history, channel);
    const [count, err, lost] = functions.call(
      red,
      "pushgate_unread",
      [streamKey(channel), readKey(user)],
      [channel, `${rule !== undefined ? rule.length : 1000}`],
    );
    if (count === undefined) {
      redis.release(red, lost === true);
      ngx.log(ngx.ERR, "failed to count unread: ", `${err}`);
      return fail(503, "redis is unavailable, try again later", settings.retryAfterSeconds);
    }
    parts.push(`${quoteJson(channel)}:${count as number}`);
  }
  redis.release(red);
  ngx.header.set("Content-Type", "application/json");
  ngx.print(`{"unread":{${parts.join(",")}}}\n`);
}
