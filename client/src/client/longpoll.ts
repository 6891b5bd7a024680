// Long-poll transport: GET /lp?key=…&since=<cursor>&timeout=<s>, one batch per answer. The first
// poll returns at once (timeout=0): the connection is open as soon as the gateway answers, and
// its cursor gives every channel a position to come back from. Then each poll asks again from
// the cursor, which the subscription keeps (the answer's cursor merged with what it delivered).

import { retryAfterMs } from "./http.js";
import { Connection, ConnectionEvents, ConnectRequest, Ending, Opener, parseObject, streamQuery, wireMessage } from "./transport.js";

/** Time an answer may take beyond the poll's own timeout before the poll counts as lost. */
const GRACE_MS = 15000;

export const openLongPoll: Opener = (request: ConnectRequest, events: ConnectionEvents): Connection => {
  let finished = false;
  let opened = false;
  let controller: AbortController | undefined;
  const finish = (ending: Ending): void => {
    if (!finished) {
      finished = true;
      events.end(ending);
    }
  };

  async function pollOnce(timeoutSeconds: number): Promise<boolean> {
    const fetchFunction = request.fetch;
    if (fetchFunction === undefined) {
      finish({ reason: "no fetch: pass the fetch option", reconnect: false, opened });
      return false;
    }
    const url = `${request.base}/lp?${streamQuery(request, { timeout: `${timeoutSeconds}` })}`;
    controller = new AbortController();
    const limit = timeoutSeconds === 0 ? request.connectTimeoutMs : timeoutSeconds * 1000 + GRACE_MS;
    const timer = setTimeout(() => controller?.abort(), limit);
    let status: number;
    let text: string;
    let retryAfter: number | undefined;
    try {
      const answer = await fetchFunction(url, { signal: controller.signal });
      status = answer.status;
      retryAfter = retryAfterMs(answer.headers.get("retry-after"));
      text = await answer.text();
    } catch (e) {
      const reason = controller.signal.aborted ? `no answer to the poll within ${limit} ms` : e instanceof Error ? e.message : String(e);
      finish({ reason: `failed to poll: ${reason}`, reconnect: true, opened });
      return false;
    } finally {
      clearTimeout(timer);
    }
    if (finished) {
      return false;
    }
    const body = parseObject(text);
    if (status !== 200 || body === undefined || !Array.isArray(body.messages)) {
      const reason = body !== undefined && typeof body.error === "string" ? body.error : `status ${status}`;
      finish({ reason: `failed to poll: ${reason}`, reconnect: status === 429 || status >= 500, opened, status, retryAfterMs: retryAfter });
      return false;
    }
    if (!opened) {
      opened = true;
      events.open();
    }
    for (const item of body.messages as unknown[]) {
      const message = typeof item === "object" && item !== null ? wireMessage(item as Record<string, unknown>) : undefined;
      if (finished) {
        return false;
      }
      if (message !== undefined) {
        events.message(message);
      }
    }
    if (Array.isArray(body.notices)) {
      for (const item of body.notices as Array<Record<string, unknown>>) {
        if (!finished && typeof item === "object" && item !== null) {
          events.notice(String(item.notice), typeof item.message === "string" ? item.message : "");
        }
      }
    }
    if (!finished && typeof body.cursor === "string") {
      events.cursor(body.cursor);
    }
    return !finished;
  }

  async function run(): Promise<void> {
    let timeout = 0;
    while (await pollOnce(timeout)) {
      timeout = request.longPollSeconds;
    }
  }
  setTimeout(() => void run(), 0);

  return {
    close: () => {
      finished = true;
      controller?.abort();
    },
    send: () => false,
    refreshToken: () => false,
  };
};
