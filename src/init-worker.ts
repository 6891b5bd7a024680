// init_worker_by_lua entry: in shared mode, starts this worker's hub; in every mode, statistics.

import * as hub from "./hub/hub";
import * as settingsHolder from "./host/settings";
import * as status from "./status";

export function start(): void {
  const settings = settingsHolder.get();
  if (settings.mode === "shared") {
    hub.start(settings);
  }
  status.start();
}
