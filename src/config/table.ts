// The one table of settings: each row names a setting (config-file key, environment variable),
// its default, its kind and bounds, and what it does. check.ts reads these rows to check values
// and to word the rule of each (in error messages and in README's generated table). The rows
// themselves are in rows-core.ts, rows-access.ts and rows-people.ts, one file per concern.

import { ACCESS_ROWS } from "./rows-access";
import { CORE_ROWS } from "./rows-core";
import { PEOPLE_ROWS } from "./rows-people";

/** How a setting's text is read; the bounds that apply are the fields of Setting named for it. */
export type Kind = "integer" | "number" | "choice" | "boolean" | "secret" | "name" | "path" | "address" | "list" | "text" | "url";

/** What each item of a `list` setting is. */
export type ItemKind = "listen" | "ipv4" | "origin" | "redis" | "history" | "pattern" | "keyfile";

export interface Setting {
  /** Name in a config file and in the Settings object. */
  key: string;
  /** Environment variable. */
  env: string;
  /** Text taken when neither the environment nor the config file gives the setting. */
  default: string;
  kind: Kind;
  /** What the setting does (README's table). */
  doc: string;
  /** integer, number: smallest and largest value; name, text: longest; secret: shortest (bytes). */
  min?: number;
  max?: number;
  /** integer: a word also accepted instead of a number; the value then stays text. */
  or?: string;
  /** integer: what 0 means. */
  zero?: string;
  /** integer: at most the value of this other (integer) setting. */
  atMost?: string;
  /** choice: the accepted values. */
  values?: string[];
  /** secret: what the value is called in an error ("the secret is shorter than 32 bytes"). */
  noun?: string;
  /** secret: accepted only with this other setting set, and different from it. */
  with?: string;
  /** list: what each item is. */
  item?: ItemKind;
  /** list: may be empty (otherwise at least one item). */
  empty?: boolean;
  /** list: `*` alone is accepted too. */
  star?: boolean;
  /** list: the parsed items go to this Settings field; the key keeps the text. */
  into?: string;
}

/** Environment variables the launcher reads that are not settings. */
export const OTHER_VARIABLES: Array<{ env: string; doc: string }> = [
  { env: "PUSHGATE_CONFIG", doc: "a JSON file whose keys are the settings' file keys; the environment wins over it" },
  { env: "PUSHGATE_NGINX", doc: "the nginx binary to run; by default `openresty` or `nginx` from the PATH, or /usr/sbin/nginx" },
];

/** Prefixes of environment variables that are not settings: the benchmark's own. */
export const OTHER_PREFIXES: string[] = ["PUSHGATE_BENCH_"];

/** Every setting, in the order of README's table: the rows live by concern in rows-*.ts. */
export const TABLE: Setting[] = CORE_ROWS.concat(ACCESS_ROWS, PEOPLE_ROWS);
