// init_by_lua entry: validates the settings the launcher rendered into nginx.conf, with the same
// schema the launcher used, and keeps them for the workers. A bad value stops nginx at start.

import * as cjson from "cjson";
import { mergeSources, parseSettings } from "./config/schema";
import * as settings from "./host/settings";

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
  settings.set(parsed);
}
