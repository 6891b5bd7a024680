// The worker's copy of the validated settings, set once by init_by_lua (see src/init.ts).

import type { Settings } from "../config/schema";

let current: Settings | undefined;

export function set(settings: Settings): void {
  current = settings;
}

/** The settings; raises if init_by_lua did not configure Pushgate (a broken nginx.conf). */
export function get(): Settings {
  if (current === undefined) {
    error("pushgate is not configured: init_by_lua must call require('pushgate.entry.init').configure(...)");
  }
  return current;
}
