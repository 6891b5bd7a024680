// The chat demo: join a room over WebSocket, Server-Sent Events or long-poll with Pushgate's
// client library (/client.js), send through it (a WebSocket frame, else POST /pub). The library
// keeps the cursor and reconnects from it after a drop (the browser offline, a gateway restart),
// so the page gets what it missed, once.

import { subscribe } from "/client.js";

const $ = (id) => document.getElementById(id);
const chat = { channel: "", subscription: null };

const TRANSPORT_NAMES = { ws: "WebSocket", sse: "Server-Sent Events", longpoll: "long-poll" };

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
function received({ data, id }) {
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

function stateChanged(subscription, state) {
  if (state === "open") {
    setStatus("live", `In ${chat.channel} over ${TRANSPORT_NAMES[subscription.transport]} via ${location.host}.`);
  } else if (state === "reconnecting") {
    setStatus("reconnecting", navigator.onLine ? "Connection lost, reconnecting…" : "Offline. Messages sent meanwhile arrive when the connection is back.");
  } else if (state === "connecting") {
    setStatus("connecting", "Connecting…");
  }
}

function setJoined(joined) {
  $("connect").disabled = joined;
  $("leave").disabled = !joined;
  $("text").disabled = !joined;
  $("say").disabled = !joined;
  for (const id of ["name", "room", "transport"]) {
    $(id).disabled = joined;
  }
}

function leave() {
  if (chat.subscription) {
    chat.subscription.close();
    chat.subscription = null;
  }
  setJoined(false);
}

$("join").addEventListener("submit", (event) => {
  event.preventDefault();
  const channel = `room:${$("room").value}`;
  // Back in the same room: resume from where the last visit stopped.
  const since = channel === chat.channel && chat.cursor ? chat.cursor : undefined;
  if (channel !== chat.channel) {
    $("messages").textContent = "";
  }
  chat.channel = channel;
  const subscription = subscribe(channel, { transport: $("transport").value, since });
  subscription.on("message", (message) => {
    chat.cursor = subscription.cursor;
    received(message);
  });
  subscription.on("notice", (notice) => {
    if (notice.notice !== "recovered") {
      show(undefined, notice.message, "", "notice");
    }
  });
  subscription.on("state", (state) => stateChanged(subscription, state));
  subscription.on("error", (error) => {
    show(undefined, error.message, "", "notice");
    if (error.fatal) {
      leave();
      setStatus("idle", `Stopped: ${error.message}`);
    }
  });
  chat.subscription = subscription;
  setJoined(true);
  setStatus("connecting", "Connecting…");
});

$("leave").addEventListener("click", () => {
  leave();
  setStatus("idle", "Not connected.");
});

$("send").addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = $("text").value;
  if (text.length === 0 || !chat.subscription) {
    return;
  }
  try {
    await chat.subscription.publish(chat.channel, JSON.stringify({ name: $("name").value, text }));
    $("text").value = "";
  } catch (e) {
    show(undefined, `Not sent: ${e.message}`, "", "notice");
  }
});

// ?room=, ?name= and ?transport= fill the form (handy for links and tests).
const params = new URLSearchParams(location.search);
for (const id of ["room", "name", "transport"]) {
  if (params.has(id)) {
    $(id).value = params.get(id);
  }
}
