// content_by_lua of POST /api: the JSON-RPC 2.0 server API (src/api/). For backends: it needs the
// publisher key or the admin key (PUSHGATE_ADMIN_KEY); with no credentials configured at all it is
// open, as /pub is.

import { constantTimeEquals } from "../auth/compare";
import { Caller, answer } from "../api/rpc";
import { fail, uriArgs } from "../host/http";
import * as settingsHolder from "../host/settings";
import * as access from "../policy/access";
import type { WorkerStatus } from "../protocol/status";
import { failWith } from "./answer";
import { credentialsOf } from "./request";
import { workerEntries } from "./status";

const ADMIN: Readonly<access.Publisher> = { name: "admin", grants: undefined, expires: undefined };

function workers(this: void): WorkerStatus[] {
  const entries = workerEntries();
  const list: WorkerStatus[] = [];
  for (let id = 0; id < ngx.worker.count(); id++) {
    const entry = entries.get(id);
    if (entry !== undefined) {
      list.push(entry);
    }
  }
  return list;
}

export function handle(): void {
  const settings = settingsHolder.get();
  if (ngx.req.get_method() !== "POST") {
    ngx.header.set("Allow", "POST");
    return fail(405, "use POST with a JSON-RPC 2.0 request as the body");
  }
  const credentials = credentialsOf(settings, uriArgs());
  const token = credentials.token;
  let publisher: access.Publisher = ADMIN;
  if (settings.adminKey.length === 0 || token === undefined || !constantTimeEquals(token, settings.adminKey)) {
    const [allowed, refusal] = access.forOperator(settings, credentials);
    if (allowed === undefined) {
      return failWith(settings, refusal);
    }
    const [verified] = access.forPublish(settings, credentials);
    publisher = verified ?? ADMIN;
  }
  ngx.req.read_body();
  const body = ngx.req.get_body_data();
  if (body === undefined) {
    return fail(413, "request too large for the api: the limit is 16 MB");
  }
  const caller: Caller = { settings, publisher, workers };
  const text = answer(caller, body);
  ngx.header.set("Cache-Control", "no-store");
  if (text === undefined) {
    ngx.status = 204;
    return;
  }
  ngx.header.set("Content-Type", "application/json");
  ngx.print(text, "\n");
}
