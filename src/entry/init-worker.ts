// init_worker_by_lua entry: in shared mode, starts this worker's hub (which loads the Redis
// functions on every connection); in direct mode, worker 0 loads them at start. In every mode,
// statistics.

import * as metrics from "../host/metrics";
import * as settingsHolder from "../host/settings";
import * as hub from "../hub/hub";
import * as pool from "../store/pool";
import { missedSince } from "../stream/heal";
import * as presence from "../store/presence";
import * as status from "./status";

function loadFunctions(this: void): void {
  const [loaded, err] = pool.loadFunctions(settingsHolder.get());
  if (loaded === undefined) {
    ngx.log(ngx.WARN, err);
  }
}

/** Shared mode, each time the hub is connected and subscribed: functions loaded, the hub reported up at once (readiness). */
function hubConnected(this: void): void {
  loadFunctions();
  status.report();
}

function loadFunctionsLater(this: void, premature: boolean): void {
  if (!premature) {
    loadFunctions();
  }
}

export function start(): void {
  const settings = settingsHolder.get();
  if (settings.mode === "shared") {
    hub.start(settings, hubConnected, missedSince);
  } else if (ngx.worker.id() === 0) {
    ngx.timer.at(0, loadFunctionsLater);
  }
  status.start();
  metrics.start();
  presence.start(settings);
}
