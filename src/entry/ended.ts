// log_by_lua entry of the stream locations (/sub, /sse, /lp): a request has ended, however it
// ended — its stream done, its client gone (nginx ends such a request at once, 499, with its
// threads: lua_check_client_abort), or a fault. Finishes the stream it held, if nothing has.

import * as settingsHolder from "../host/settings";
import { requestEnded } from "../stream/open";

export function handle(): void {
  requestEnded(settingsHolder.get());
}
