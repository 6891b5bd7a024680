// What the entries read from an nginx request, as the records the core takes: the credentials
// (Authorization: Bearer, ?token=, the auth cookie; ?user=; the client address; with backend auth
// the Cookie and Authorization headers as sent) and a subscribe
// request (channels, cursor, backlog). The only place that reads those request variables.

import type { Settings } from "../config/schema";
import { applyCors } from "../host/cors";
import { channelsArg, queryArg, requestHeader, UriArgs, uriArgs } from "../host/http";
import { refuseBody } from "./answer";
import type { Credentials } from "../policy/access";
import type { StreamRequest } from "../stream/open";

/** The credential of the request: Authorization: Bearer, then ?token=, then the auth cookie. */
function token(settings: Settings, args: UriArgs): string | undefined {
  const authorization = ngx.var.get("http_authorization");
  if (authorization !== undefined) {
    const [, , bearer] = string.find(authorization, "^[Bb]earer%s+(%S+)%s*$");
    return (bearer as string | undefined) ?? "";
  }
  const fromQuery = queryArg(args, "token");
  if (fromQuery !== undefined) {
    return fromQuery;
  }
  return ngx.var.get(`cookie_${settings.authCookie}`);
}

export function credentialsOf(settings: Settings, args: UriArgs): Credentials {
  const credentials: Credentials = { token: token(settings, args), user: queryArg(args, "user"), address: ngx.var.get("remote_addr") ?? "?" };
  if (settings.authUrl.length > 0) {
    // Backend auth keys its cache on what the app sees: the cookies and the Authorization header.
    credentials.cookie = ngx.var.get("http_cookie");
    credentials.authorization = ngx.var.get("http_authorization");
  }
  return credentials;
}

/** A subscribe request for `channels` (already validated). */
export function streamRequest(settings: Settings, channels: string[], args: UriArgs): StreamRequest {
  // Last-Event-ID first: an EventSource that reconnects by itself sends the newest id there, while
  // its URL still carries the ?since= it was opened with.
  const cursor = requestHeader("last-event-id") ?? queryArg(args, "since") ?? queryArg(args, "last_event_id");
  return { channels, credentials: credentialsOf(settings, args), cursor, backlog: queryArg(args, "backlog") };
}

/** What every GET subscribe entry starts with: CORS, no body, the query and its channels (a 400 when they are bad). */
export function subscribeQuery(settings: Settings): LuaMultiReturn<[UriArgs, string[]]> {
  applyCors(settings, "GET, OPTIONS");
  refuseBody();
  const args = uriArgs();
  return $multi(args, channelsArg(args, settings.maxChannels));
}
