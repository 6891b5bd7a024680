// Reads the settings for the launcher: defaults < config file (PUSHGATE_CONFIG) < PUSHGATE_* env;
// a PUSHGATE_* variable that names nothing Pushgate reads stops it (a typo must not pass silently).

import "./multi";
import { readFileSync } from "node:fs";
import { checkEnvironment, mergeSources, parseSettings, Settings } from "../config/schema";

export class SettingsError extends Error {}

export function loadSettings(env: Record<string, string | undefined>): Settings {
  const [known, envErr] = checkEnvironment(env);
  if (known === undefined) {
    throw new SettingsError(envErr);
  }
  let file: Record<string, unknown> | undefined;
  const path = env.PUSHGATE_CONFIG;
  if (path !== undefined && path.length > 0) {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (e) {
      throw new SettingsError(`cannot read the config file PUSHGATE_CONFIG=${path}: ${(e as Error).message}`);
    }
    try {
      file = JSON.parse(text) as Record<string, unknown>;
    } catch (e) {
      throw new SettingsError(`the config file ${path} is not JSON: ${(e as Error).message}`);
    }
    if (typeof file !== "object" || file === null || Array.isArray(file)) {
      throw new SettingsError(`the config file ${path} must hold a JSON object`);
    }
  }
  const [raw, mergeErr] = mergeSources(file, env);
  if (raw === undefined) {
    throw new SettingsError(mergeErr);
  }
  const [settings, err] = parseSettings(raw);
  if (settings === undefined) {
    throw new SettingsError(err);
  }
  return settings;
}
