// init_worker_by_lua entry: in shared mode, starts this worker's hub; in every mode, statistics.

import * as functions from "./host/functions";
import * as redis from "./host/redis";
import * as hub from "./hub/hub";
import * as settingsHolder from "./host/settings";
import * as status from "./status";

/** Direct mode has no hub to load the Redis functions on connect: worker 0 does it at start. */
function loadFunctions(this: void, premature: boolean): void {
  if (premature) {
    return;
  }
  const settings = settingsHolder.get();
  const [red, err] = redis.connect(settings.redis[0], settings.redisTimeoutMs, undefined, true);
  if (red === undefined) {
    ngx.log(ngx.WARN, "failed to load the pushgate functions: ", err);
    return;
  }
  const [loaded, loadErr] = functions.loadLibrary(red);
  if (loaded === undefined) {
    ngx.log(ngx.WARN, loadErr);
  }
  redis.release(red);
}

export function start(): void {
  const settings = settingsHolder.get();
  if (settings.mode === "shared") {
    hub.start(settings);
  } else if (ngx.worker.id() === 0) {
    ngx.timer.at(0, loadFunctions);
  }
  status.start();
}
