// Every Pushgate setting, declared and validated in one place. Pure logic: the launcher (Node)
// checks the environment and config file with it before anything starts, and nginx's
// init_by_lua checks the same settings again with the same code compiled to Lua.
// The table is table.ts, its checker check.ts, single values values.ts, the merging of config
// file and environment sources.ts; this module is the name the rest of Pushgate imports.

export type { HistoryRule, LineFormat, Mode, OverflowPolicy, RedisAddress, RedisFsync, SettingRule, Settings } from "./types";
export type { ItemKind, Kind, Setting } from "./table";
export { OTHER_PREFIXES, OTHER_VARIABLES, TABLE } from "./table";
export { historyRuleFor, isIPv4, numberIn, parseRedisUrl } from "./values";
export { SETTINGS, parseSettings, ruleText, toRaw } from "./check";
export { checkEnvironment, isKnownVariable, mergeSources } from "./sources";
