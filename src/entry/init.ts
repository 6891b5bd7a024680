// init_by_lua entry: validates the settings the launcher rendered into nginx.conf, with the same
// schema the launcher used, and keeps them for the workers. A bad value stops nginx at start.

import * as cjson from "cjson";
import { mergeSources, parseSettings } from "../config/schema";
import { loadCrypto } from "../host/crypto";
import * as access from "../policy/access";
import * as settings from "../host/settings";

export function configure(json: string): void {
  const [ok, decoded] = pcall(cjson.decode, json);
  if (!ok || type(decoded) !== "table") {
    error("pushgate: the settings in nginx.conf are not a JSON object", 0);
  }
  const [raw, mergeErr] = mergeSources(decoded as Record<string, unknown>, {});
  if (raw === undefined) {
    error(`pushgate: ${mergeErr}`, 0);
  }
  const [parsed, err] = parseSettings(raw);
  if (parsed === undefined) {
    error(`pushgate: ${err}`, 0);
  }
  if (access.enabled(parsed)) {
    const [loaded, cryptoErr] = loadCrypto();
    if (loaded === undefined) {
      error(`pushgate: grants need OpenSSL's libcrypto: ${cryptoErr}`, 0);
    }
    // Reads the public key files now: a bad one stops nginx at start, and workers inherit the keys.
    const [prepared, keysErr] = access.prepare(parsed);
    if (prepared === undefined) {
      error(`pushgate: ${keysErr}`, 0);
    }
  } else {
    ngx.log(
      ngx.WARN,
      "pushgate: PUSHGATE_JWT_SECRET is not set (nor public keys or PUSHGATE_AUTH_URL): anyone may subscribe to any channel and publish (no auth)",
    );
  }
  settings.set(parsed);
}
