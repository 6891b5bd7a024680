// The chat demo: join a room over Server-Sent Events or a WebSocket, send with POST /pub.
// Each message comes with a cursor; after a drop (the browser offline, a gateway restart) the page
// reconnects from the last one, so it gets what it missed, once.
"use strict";

(function () {
  const RECONNECT_MS = 1000;
  const $ = (id) => document.getElementById(id);
  const chat = {
    joined: false,
    channel: "",
    transport: "sse",
    /** Where to resume: the id (SSE) or cursor (WebSocket) of the last message received. */
    cursor: "",
    /** Message ids already shown: a resume never shows one twice. */
    seen: new Set(),
    source: null,
    socket: null,
    timer: null,
  };

  function setStatus(state, text) {
    const status = $("status");
    status.dataset.state = state;
    status.textContent = text;
  }

  function show(who, text, id, kind) {
    const item = document.createElement("li");
    item.className = kind;
    if (id) {
      item.dataset.id = id;
    }
    if (who !== undefined) {
      const name = document.createElement("span");
      name.className = "who";
      name.textContent = who;
      item.appendChild(name);
    }
    item.appendChild(document.createTextNode(text));
    const list = $("messages");
    list.appendChild(item);
    list.scrollTop = list.scrollHeight;
  }

  /** A chat message is the JSON {"name":..,"text":..}; anything else is shown as it came. */
  function received(data, id) {
    if (id) {
      if (chat.seen.has(id)) {
        return;
      }
      chat.seen.add(id);
    }
    let message;
    try {
      message = JSON.parse(data);
    } catch (e) {
      message = null;
    }
    if (message && typeof message.name === "string" && typeof message.text === "string") {
      show(message.name, message.text, id, "message");
    } else {
      show("?", data, id, "message");
    }
  }

  function noticeText(data) {
    try {
      return JSON.parse(data).message;
    } catch (e) {
      return data;
    }
  }

  function live() {
    setStatus("live", `In ${chat.channel} over ${chat.transport === "sse" ? "Server-Sent Events" : "WebSocket"} via ${location.host}.`);
  }

  function reconnectSoon() {
    if (!chat.joined || chat.timer !== null || !navigator.onLine) {
      return;
    }
    setStatus("reconnecting", "Connection lost, reconnecting…");
    chat.timer = setTimeout(() => {
      chat.timer = null;
      connect();
    }, RECONNECT_MS);
  }

  function since() {
    return chat.cursor ? `&since=${encodeURIComponent(chat.cursor)}` : "";
  }

  function connectSse() {
    const source = new EventSource(`/sse?key=${encodeURIComponent(chat.channel)}${since()}`);
    source.onopen = live;
    source.onmessage = (event) => {
      if (event.lastEventId) {
        chat.cursor = event.lastEventId;
      }
      received(event.data, event.lastEventId);
    };
    source.addEventListener("notice", (event) => show(undefined, noticeText(event.data), "", "notice"));
    source.addEventListener("error", (event) => {
      if (event.data !== undefined) {
        // the server ends the stream (a restart): EventSource reconnects with Last-Event-ID
        setStatus("reconnecting", "The gateway restarts, reconnecting…");
      } else if (source.readyState === EventSource.CLOSED && chat.source === source) {
        reconnectSoon();
      } else {
        setStatus("reconnecting", "Connection lost, reconnecting…");
      }
    });
    chat.source = source;
  }

  function connectWs() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}/ws?key=${encodeURIComponent(chat.channel)}${since()}`);
    socket.onopen = live;
    socket.onmessage = (event) => {
      const frame = JSON.parse(event.data);
      if (frame.type === "message") {
        chat.cursor = frame.cursor || frame.id || chat.cursor;
        received(frame.data, frame.id);
      } else if (frame.type === "notice") {
        show(undefined, frame.message, "", "notice");
      }
    };
    socket.onclose = () => {
      if (chat.socket === socket) {
        chat.socket = null;
        reconnectSoon();
      }
    };
    chat.socket = socket;
  }

  function connect() {
    disconnect();
    if (chat.transport === "ws") {
      connectWs();
    } else {
      connectSse();
    }
  }

  function disconnect() {
    if (chat.timer !== null) {
      clearTimeout(chat.timer);
      chat.timer = null;
    }
    if (chat.source) {
      chat.source.close();
      chat.source = null;
    }
    if (chat.socket) {
      const socket = chat.socket;
      chat.socket = null;
      socket.close();
    }
  }

  function setJoined(joined) {
    chat.joined = joined;
    $("connect").disabled = joined;
    $("leave").disabled = !joined;
    $("text").disabled = !joined;
    $("say").disabled = !joined;
    for (const id of ["name", "room", "transport"]) {
      $(id).disabled = joined;
    }
  }

  $("join").addEventListener("submit", (event) => {
    event.preventDefault();
    const channel = `room:${$("room").value}`;
    if (channel !== chat.channel) {
      chat.cursor = "";
      chat.seen.clear();
      $("messages").textContent = "";
    }
    chat.channel = channel;
    chat.transport = $("transport").value;
    setJoined(true);
    setStatus("connecting", "Connecting…");
    connect();
  });

  $("leave").addEventListener("click", () => {
    setJoined(false);
    disconnect();
    setStatus("idle", "Not connected.");
  });

  $("send").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = $("text").value;
    if (text.length === 0) {
      return;
    }
    const body = JSON.stringify({ name: $("name").value, text });
    try {
      const answer = await fetch(`/pub?channel=${encodeURIComponent(chat.channel)}`, { method: "POST", body });
      if (!answer.ok) {
        throw new Error((await answer.json()).error);
      }
      $("text").value = "";
    } catch (e) {
      show(undefined, `Not sent: ${e.message}`, "", "notice");
    }
  });

  // Offline: drop the connection; online again: come back from the last cursor.
  window.addEventListener("offline", () => {
    if (chat.joined) {
      disconnect();
      setStatus("reconnecting", "Offline. Messages sent meanwhile arrive when the connection is back.");
    }
  });
  window.addEventListener("online", () => {
    if (chat.joined) {
      connect();
    }
  });

  // ?room=, ?name= and ?transport= fill the form (handy for links and tests).
  const params = new URLSearchParams(location.search);
  for (const id of ["room", "name", "transport"]) {
    if (params.has(id)) {
      $(id).value = params.get(id);
    }
  }
})();
