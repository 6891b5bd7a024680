// The methods of the server API about who is connected and what they have read: presence,
// presence_stats, online, channels, unread; and info about the gateway.

import type { Settings } from "../config/schema";
import { quoteJson } from "../host/json";
import { isValidPattern } from "../auth/grant";
import { FAILURE_CODES, invalidParam, RpcError, rpcError } from "../protocol/jsonrpc";
import type { WorkerStatus } from "../protocol/status";
import * as servers from "../store/servers";
import * as roster from "../store/roster";
import * as readstate from "../store/readstate";
import * as param from "./params";
import type { Params } from "./params";
import type { Result } from "./publishing";

/** At most this many users per online or unread call. */
const MAX_USERS = 1000;

export function channelPresence(settings: Settings, params: Params, withUsers: boolean): Result {
  const [channel, channelErr] = param.channel(params, "channel");
  if (channel === undefined) {
    return $multi(undefined, channelErr);
  }
  const [offset, offsetErr] = param.int(params, "offset", 0, 1000000000, 0);
  const [limit, limitErr] = param.int(params, "limit", 1, 1000, 100);
  if (offset === undefined || limit === undefined) {
    return $multi(undefined, (offsetErr ?? limitErr) as RpcError);
  }
  const [found, failure] = roster.ofChannel(settings, channel, offset, withUsers ? limit : 0);
  if (found === undefined) {
    return $multi(undefined, rpcError(FAILURE_CODES[failure.kind], failure.message));
  }
  const head = `{"channel":${quoteJson(channel)},"connections":${found.connections},"users":${found.users}`;
  if (!withUsers) {
    return $multi(`${head}}`);
  }
  const ids: string[] = [];
  for (const user of found.page) {
    ids.push(quoteJson(user));
  }
  const next = offset + found.page.length < found.users ? `${offset + found.page.length}` : "null";
  return $multi(`${head},"userIds":[${ids.join(",")}],"next":${next}}`);
}

export function online(settings: Settings, params: Params): Result {
  const [users, usersErr] = param.strings(params, "users", MAX_USERS, false);
  if (users === undefined) {
    return $multi(undefined, usersErr);
  }
  const out: string[] = [];
  for (const user of users) {
    const [found, failure] = roster.ofUser(settings, user);
    if (found === undefined) {
      return $multi(undefined, rpcError(FAILURE_CODES[failure.kind], failure.message));
    }
    const seen = found.lastSeen > 0 ? `${found.lastSeen}` : "null";
    out.push(`${quoteJson(user)}:{"online":${found.connections > 0},"connections":${found.connections},"lastSeen":${seen}}`);
  }
  return $multi(`{${out.join(",")}}`);
}

export function unread(settings: Settings, params: Params): Result {
  const [user, userErr] = param.str(params, "user", false);
  const [channels, channelsErr] = param.strings(params, "channels", settings.maxChannels, true);
  if (user === undefined || channels === undefined) {
    return $multi(undefined, (userErr ?? channelsErr) as RpcError);
  }
  const [counts, failure] = readstate.unread(settings, user, channels);
  if (counts === undefined) {
    return $multi(undefined, rpcError(FAILURE_CODES[failure.kind], failure.message));
  }
  const out: string[] = [];
  for (let i = 0; i < channels.length; i++) {
    out.push(`${quoteJson(channels[i])}:${counts[i]}`);
  }
  return $multi(`{"user":${quoteJson(user)},"unread":{${out.join(",")}}}`);
}

export function info(settings: Settings, workers: WorkerStatus[], version: string): Result {
  const out: string[] = [];
  for (const w of workers) {
    out.push(`{"worker":${w.worker},"pid":${w.pid},"hubConnected":${w.connected},"channels":${w.channels},"subscribers":${w.subscribers}}`);
  }
  return $multi(`{"version":${quoteJson(version)},"mode":${quoteJson(settings.mode)},"workers":[${out.join(",")}]}`);
}

/** At most this many channels in one channels answer. */
const MAX_CHANNELS_LISTED = 1000;

/** Active channels (with a live connection on any gateway), by pattern, with their connection and user counts. */
export function channels(settings: Settings, params: Params): Result {
  const [pattern, patternErr] = param.str(params, "pattern", true);
  if (patternErr !== undefined) {
    return $multi(undefined, patternErr);
  }
  const glob = pattern ?? "*";
  if (string.find(glob, "[%[%]%?\\{}]")[0] !== undefined || !isValidPattern(glob)) {
    return $multi(undefined, invalidParam("pattern", "must be a channel, a prefix followed by * or *"));
  }
  const [listed, failure] = servers.keysMatching(settings, `pushgate:{${glob}}:pconn`, MAX_CHANNELS_LISTED);
  if (listed === undefined) {
    return $multi(undefined, rpcError(FAILURE_CODES[failure.kind], `failed to list channels: ${failure.message}`));
  }
  const names: string[] = [];
  for (const key of listed.keys) {
    names.push(string.sub(key, 11, key.length - 7));
  }
  names.sort();
  const out: string[] = [];
  for (const name of names) {
    const [found] = roster.ofChannel(settings, name, 0, 0);
    if (found !== undefined && found.connections > 0) {
      out.push(`{"channel":${quoteJson(name)},"connections":${found.connections},"users":${found.users}}`);
    }
  }
  return $multi(`{"channels":[${out.join(",")}],"truncated":${listed.truncated}}`);
}
