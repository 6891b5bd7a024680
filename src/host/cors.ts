// CORS for browser pages on other origins (settings corsOrigins, corsCredentials), and the
// Origin check of WebSocket upgrades, which browsers do not subject to CORS.

import type { Settings } from "../config/schema";
import { requestHeader } from "./http";

/** How long a browser may cache a preflight answer (s). */
const PREFLIGHT_MAX_AGE_S = 600;

/** What to send as Access-Control-Allow-Origin for `origin`, or undefined when it is not allowed. */
function allowedOrigin(settings: Settings, origin: string): string | undefined {
  const origins = settings.corsOrigins;
  if (origins.length === 0) {
    return undefined;
  }
  if (origins[0] === "*") {
    // "*" may not be sent together with credentials: echo the origin then.
    return settings.corsCredentials ? origin : "*";
  }
  for (const allowed of origins) {
    if (allowed === origin) {
      return origin;
    }
  }
  return undefined;
}

/** Header names a preflight may ask for: letters, digits, '-', and the list's commas and spaces. */
function isHeaderList(value: string): boolean {
  return value.length <= 512 && string.find(value, "^[%w%-, ]*$")[0] !== undefined;
}

/**
 * Sets the CORS headers of this response when its Origin is allowed, and answers a preflight
 * (OPTIONS) at once with 204. Call it first in a handler, so error answers carry them too.
 * `methods` is what the location accepts, e.g. "GET, OPTIONS".
 */
export function applyCors(settings: Settings, methods: string): void {
  const origin = requestHeader("origin");
  const allowed = origin !== undefined ? allowedOrigin(settings, origin) : undefined;
  if (settings.corsOrigins.length > 0 && settings.corsOrigins[0] !== "*") {
    ngx.header.set("Vary", "Origin");
  }
  if (allowed !== undefined) {
    ngx.header.set("Access-Control-Allow-Origin", allowed);
    if (settings.corsCredentials) {
      ngx.header.set("Access-Control-Allow-Credentials", "true");
    }
  }
  if (ngx.req.get_method() !== "OPTIONS") {
    return;
  }
  if (allowed !== undefined) {
    ngx.header.set("Access-Control-Allow-Methods", methods);
    const asked = requestHeader("access-control-request-headers");
    if (asked !== undefined && isHeaderList(asked)) {
      ngx.header.set("Access-Control-Allow-Headers", asked);
    }
    ngx.header.set("Access-Control-Max-Age", `${PREFLIGHT_MAX_AGE_S}`);
  }
  ngx.header.set("Allow", methods);
  ngx.status = 204;
  ngx.exit(204);
}

/**
 * May a WebSocket upgrade with this Origin go on? Yes without an Origin (not a browser), from the
 * gateway's own origin, and from an allowed one; with corsOrigins empty, from any origin.
 */
export function originAllowed(settings: Settings): boolean {
  const origin = requestHeader("origin");
  if (origin === undefined || settings.corsOrigins.length === 0) {
    return true;
  }
  const host = requestHeader("host");
  if (host !== undefined && (origin === `http://${host}` || origin === `https://${host}`)) {
    return true;
  }
  return allowedOrigin(settings, origin) !== undefined;
}
