// Where raw setting values come from: the config file and the environment, merged over the
// defaults; names that are no setting are refused with the closest known one.

import { closest } from "./suggest";
import { OTHER_PREFIXES, OTHER_VARIABLES, TABLE } from "./table";

function knownKey(key: string): boolean {
  return TABLE.some((setting) => setting.key === key);
}

/**
 * Merges the three sources of raw values, later winning: defaults < config file < environment.
 * A config-file key that names no setting is an error (a typo must not pass silently).
 */
export function mergeSources(
  file: Record<string, unknown> | undefined,
  env: Record<string, string | undefined>,
): LuaMultiReturn<[Record<string, string | undefined>] | [undefined, string]> {
  const raw: Record<string, string | undefined> = {};
  if (file !== undefined) {
    for (const key of Object.keys(file)) {
      if (!knownKey(key)) {
        const suggestion = closest(
          key,
          TABLE.map((setting) => setting.key),
        );
        return $multi(undefined, `unknown setting "${key}" in the config file: did you mean "${suggestion}"?`);
      }
      const v = file[key];
      if (typeof v === "string") {
        raw[key] = v;
      } else if (typeof v === "number" || typeof v === "boolean") {
        raw[key] = `${v}`;
      } else if (Array.isArray(v)) {
        raw[key] = v.join(",");
      } else {
        return $multi(undefined, `invalid setting ${key} in the config file: expected a string, number or list`);
      }
    }
  }
  for (const setting of TABLE) {
    const v = env[setting.env];
    if (v !== undefined) {
      raw[setting.key] = v;
    }
  }
  return $multi(raw);
}

/** True when `name` is a variable Pushgate reads: a setting's, or one of OTHER_VARIABLES / OTHER_PREFIXES. */
export function isKnownVariable(name: string): boolean {
  if (TABLE.some((setting) => setting.env === name) || OTHER_VARIABLES.some((other) => other.env === name)) {
    return true;
  }
  return OTHER_PREFIXES.some((prefix) => name.startsWith(prefix));
}

/**
 * Refuses an environment that sets a PUSHGATE_* variable Pushgate does not read (a typo such as
 * PUSHGATE_WORKER would otherwise be ignored), naming the closest known one.
 */
export function checkEnvironment(env: Record<string, string | undefined>): LuaMultiReturn<[true] | [undefined, string]> {
  const unknown = Object.keys(env)
    .filter((name) => name.startsWith("PUSHGATE_") && env[name] !== undefined && !isKnownVariable(name))
    .sort();
  if (unknown.length === 0) {
    return $multi(true);
  }
  const names = TABLE.map((setting) => setting.env).concat(OTHER_VARIABLES.map((other) => other.env));
  return $multi(undefined, `unknown setting ${unknown[0]}: did you mean ${closest(unknown[0], names)}?`);
}
