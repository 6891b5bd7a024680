// Server-Sent Events transport: GET /sse?key=…&format=object&since=<cursor>. Each message's data
// is the JSON line of /sub (channel, id, event, cursor and payload, every byte kept). The client
// reconnects by itself: at the first error the EventSource is closed, so it does not retry alone.

import { Connection, ConnectionEvents, ConnectRequest, Ending, Opener, parseObject, streamQuery, wireMessage } from "./transport.js";

export const openEventSource: Opener = (request: ConnectRequest, events: ConnectionEvents): Connection => {
  let finished = false;
  let opened = false;
  let source: ReturnType<typeof create> | undefined;
  const finish = (ending: Ending): void => {
    if (finished) {
      return;
    }
    finished = true;
    clearTimeout(timer);
    source?.close();
    events.end(ending);
  };
  const timer = setTimeout(
    () => finish({ reason: `failed to open the event stream within ${request.connectTimeoutMs} ms`, reconnect: true, opened }),
    request.connectTimeoutMs,
  );

  function create(): InstanceType<NonNullable<ConnectRequest["EventSource"]>> {
    const EventSourceClass = request.EventSource;
    if (EventSourceClass === undefined) {
      throw new Error("no EventSource: pass the EventSource option (in Node: the eventsource package)");
    }
    return new EventSourceClass(`${request.base}/sse?${streamQuery(request, { format: "object" })}`);
  }

  try {
    source = create();
  } catch (e) {
    const reason = `failed to open the event stream: ${e instanceof Error ? e.message : String(e)}`;
    setTimeout(() => finish({ reason, reconnect: true, opened }), 0);
    return { close: () => (finished = true), send: () => false, refreshToken: () => false };
  }
  const live = source;
  live.addEventListener("open", () => {
    if (!finished) {
      opened = true;
      clearTimeout(timer);
      events.open();
    }
  });
  live.addEventListener("message", (event) => {
    const line = parseObject(event.data);
    const message = line !== undefined && line.type === "message" ? wireMessage(line) : undefined;
    if (!finished && message !== undefined) {
      events.message(message);
    }
  });
  live.addEventListener("notice", (event) => {
    const notice = parseObject(event.data);
    if (!finished && notice !== undefined) {
      events.notice(String(notice.notice), typeof notice.message === "string" ? notice.message : "");
    }
  });
  live.addEventListener("error", (event) => {
    // With data: the gateway ends the stream ({"error":"server restart","reconnect":true}).
    // Without: the connection failed or dropped (Node's eventsource gives the status as `code`).
    const ended = parseObject(event.data);
    if (ended !== undefined) {
      finish({ reason: String(ended.error), reconnect: ended.reconnect !== false, opened });
      return;
    }
    const status = typeof event.code === "number" ? event.code : undefined;
    const detail = typeof event.message === "string" && event.message.length > 0 ? `: ${event.message}` : "";
    finish({ reason: `the event stream failed${detail}`, reconnect: true, opened, status: status !== undefined && status >= 400 ? status : undefined });
  });

  return {
    close: () => {
      if (!finished) {
        finished = true;
        clearTimeout(timer);
        live.close();
      }
    },
    send: () => false,
    refreshToken: () => false,
  };
};
