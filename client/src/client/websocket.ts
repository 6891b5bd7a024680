// WebSocket transport: GET /ws?key=…&since=<cursor>. Messages, notices and answers are JSON text
// frames; publish and ack go out as frames on the same connection, and so does a new token
// ({"type":"refresh"}): the stream stays open across token lifetimes.

import { Connection, ConnectionEvents, ConnectRequest, Ending, Opener, parseObject, streamQuery, wireMessage } from "./transport.js";

const OPEN = 1;
const CLOSE_NORMAL = 1000;

/** The `ref` of refresh frames: their answer is this transport's, not a pending request's. */
const REFRESH_REF = "pushgate-client-refresh";

export const openWebSocket: Opener = (request: ConnectRequest, events: ConnectionEvents): Connection => {
  let finished = false;
  let opened = false;
  let socket: ReturnType<typeof create> | undefined;
  const finish = (ending: Ending): void => {
    if (finished) {
      return;
    }
    finished = true;
    clearTimeout(timer);
    if (socket !== undefined) {
      if (socket.readyState <= OPEN) {
        socket.close(CLOSE_NORMAL);
      }
    }
    events.end(ending);
  };
  const timer = setTimeout(
    () => finish({ reason: `failed to open the WebSocket within ${request.connectTimeoutMs} ms`, reconnect: true, opened }),
    request.connectTimeoutMs,
  );

  function create(): InstanceType<NonNullable<ConnectRequest["WebSocket"]>> {
    const WebSocketClass = request.WebSocket;
    if (WebSocketClass === undefined) {
      throw new Error("no WebSocket: pass the WebSocket option (in Node: the ws package)");
    }
    return new WebSocketClass(`${request.wsUrl}?${streamQuery(request)}`);
  }

  try {
    socket = create();
  } catch (e) {
    const reason = `failed to open the WebSocket: ${e instanceof Error ? e.message : String(e)}`;
    setTimeout(() => finish({ reason, reconnect: true, opened }), 0);
    return { close: () => (finished = true), send: () => false, refreshToken: () => false };
  }
  const live = socket;
  // Listeners stay for the socket's life (the `ws` package throws an error nobody listens to);
  // `finished` silences them once the connection has ended or been closed.
  live.addEventListener("open", () => {
    if (!finished) {
      opened = true;
      clearTimeout(timer);
      events.open();
    }
  });
  live.addEventListener("message", (event) => {
    const frame = parseObject(event.data);
    if (finished || frame === undefined) {
      return;
    }
    if (frame.ref === REFRESH_REF) {
      // {"type":"refreshed"}: the connection carries the new token. A refusal (an older gateway,
      // a token it does not take): come back with the new token and the cursor instead.
      if (frame.type === "error") {
        finish({ reason: `the gateway refused the new token: ${String(frame.error)}`, reconnect: true, opened });
      }
    } else if (frame.type === "message") {
      const message = wireMessage(frame);
      if (message !== undefined) {
        events.message(message);
      }
    } else if (frame.type === "notice") {
      events.notice(
        String(frame.notice),
        typeof frame.message === "string" ? frame.message : "",
        typeof frame.channel === "string" ? frame.channel : undefined,
      );
    } else {
      events.reply(frame);
    }
  });
  live.addEventListener("error", () => undefined); // a close event follows, with the code
  live.addEventListener("close", (event) => {
    // 1011 "token expired" and 4001 (the server API: disconnected for good, token revoked) are the
    // ends the gateway means as final (reconnect: false); 4000 (disconnected, may come back),
    // 1012 (reload), 1011 (Redis lost), 1008 (too slow), 1006 (network): come back with the cursor.
    const reason = typeof event.reason === "string" && event.reason.length > 0 ? event.reason : `WebSocket closed (${String(event.code)})`;
    finish({ reason, reconnect: event.reason !== "token expired" && event.code !== 4001, opened });
  });

  return {
    close: () => {
      if (!finished) {
        finished = true;
        clearTimeout(timer);
        if (live.readyState <= OPEN) {
          live.close(CLOSE_NORMAL);
        }
      }
    },
    send: (frame) => {
      if (finished || live.readyState !== OPEN) {
        return false;
      }
      live.send(JSON.stringify(frame));
      return true;
    },
    refreshToken: (token) => {
      if (finished || live.readyState !== OPEN) {
        return false;
      }
      live.send(JSON.stringify({ type: "refresh", token, ref: REFRESH_REF }));
      return true;
    },
  };
};
