// GET /healthz: readiness, for load balancers. 200 {"ok":true} only while this gateway can serve:
// Redis answers (publishing, history), and in shared mode every worker's hub is connected (the
// workers' entries in the shared dict, written each second by entry/status.ts). Otherwise 503
// with {"ok":false,"down":[...]} naming what is down. Liveness is /livez (nginx.conf).

import * as cjson from "cjson";
import * as settingsHolder from "../host/settings";
import * as servers from "../store/servers";
import { workerEntries } from "./status";

export function handleReady(): void {
  const settings = settingsHolder.get();
  const down: string[] = [];
  const [answered, err] = servers.ping(settings);
  if (answered === undefined) {
    down.push(`redis: ${err}`);
  }
  if (settings.mode === "shared") {
    const entries = workerEntries();
    for (let id = 0; id < ngx.worker.count(); id++) {
      const entry = entries.get(id);
      if (entry === undefined) {
        down.push(`hub of worker ${id}: no report yet`);
      } else if (entry.connected !== true) {
        down.push(`hub of worker ${id}: not connected to redis`);
      }
    }
  }
  ngx.header.set("Content-Type", "application/json");
  ngx.header.set("Cache-Control", "no-store");
  if (down.length > 0) {
    ngx.status = 503;
    ngx.header.set("Retry-After", `${settings.retryAfterSeconds}`);
    ngx.print(cjson.encode({ ok: false, down }), "\n");
    return;
  }
  ngx.print('{"ok":true}\n');
}
