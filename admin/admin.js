// The status page: polls GET /status once a second and shows what it says, with no framework.
// The delivery rate is the change of the delivered counter between two answers over the
// gateway's clock, kept for the last 5 minutes and drawn on a canvas. With credentials on,
// /status answers 401 without a key: the page then asks for the admin key (or the publisher
// key), keeps it for this tab (sessionStorage) and sends it as Authorization: Bearer.

const POLL_MS = 1000;
const KEPT_S = 300;
const KEY_ITEM = "pushgate-admin-key";

const $ = (id) => document.getElementById(id);
/** [time (s), deliveries per second] of the last KEPT_S seconds, oldest first. */
const rates = [];
let last = undefined;
let timer = undefined;

function setState(state, text) {
  const node = $("state");
  node.dataset.state = state;
  node.textContent = text;
}

function setText(id, value) {
  $(id).textContent = String(value);
}

function asArray(value) {
  // the gateway's JSON encoder writes an empty list as {}
  return Array.isArray(value) ? value : [];
}

function row(cells) {
  const tr = document.createElement("tr");
  for (const cell of cells) {
    const td = document.createElement("td");
    if (typeof cell === "object") {
      td.textContent = cell.text;
      td.className = cell.className;
    } else {
      td.textContent = String(cell);
    }
    tr.append(td);
  }
  return tr;
}

function showTransports(streams) {
  const body = $("transports").tBodies[0];
  const names = Object.keys(streams).sort();
  let total = 0;
  body.replaceChildren(
    ...names.map((name) => {
      total += streams[name];
      const tr = row([name, streams[name]]);
      tr.dataset.transport = name;
      return tr;
    }),
  );
  setText("streams-total", total);
}

function showWorkers(status) {
  const shared = status.mode === "shared";
  $("workers").tBodies[0].replaceChildren(
    ...asArray(status.workers).map((w) =>
      row([
        w.worker,
        w.pid,
        shared ? { text: w.connected ? "connected" : "down", className: w.connected ? "up" : "down" } : "direct",
        w.channels,
        w.subscribers,
        w.reconnects,
        w.dropped,
        `${(w.luaKb / 1024).toFixed(1)} MB`,
      ]),
    ),
  );
}

function showRedis(redis) {
  const node = $("redis");
  node.dataset.state = redis.ok ? "ok" : "down";
  const times = redis.commands > 0 ? `; ${redis.commands} store operations, ${redis.meanMs} ms on average` : "";
  node.textContent = redis.ok ? `answers${times}` : `down: ${redis.error}${times}`;
}

function showErrors(errors) {
  const items = asArray(errors).map((e) => {
    const li = document.createElement("li");
    li.className = e.level;
    const when = document.createElement("time");
    when.dateTime = new Date(e.at * 1000).toISOString();
    when.textContent = new Date(e.at * 1000).toLocaleTimeString();
    const repeated = e.count > 1 ? ` (×${e.count})` : "";
    li.append(when, `worker ${e.worker}: ${e.message}${repeated}`);
    return li;
  });
  $("errors").replaceChildren(...items);
  $("no-errors").hidden = items.length > 0;
}

function drawChart() {
  const canvas = $("chart");
  const context = canvas.getContext("2d");
  const { width, height } = canvas;
  context.clearRect(0, 0, width, height);
  context.strokeStyle = "#ddd";
  context.beginPath();
  context.moveTo(0, height - 0.5);
  context.lineTo(width, height - 0.5);
  context.stroke();
  canvas.dataset.points = String(rates.length);
  if (rates.length < 2) {
    return;
  }
  const newest = rates[rates.length - 1][0];
  const top = Math.max(1, ...rates.map((r) => r[1]));
  canvas.dataset.max = String(top);
  const x = (t) => width - ((newest - t) / KEPT_S) * width;
  const y = (rate) => height - 4 - (rate / top) * (height - 20);
  context.strokeStyle = "#1f6feb";
  context.lineWidth = 2;
  context.beginPath();
  rates.forEach(([t, rate], i) => (i === 0 ? context.moveTo(x(t), y(rate)) : context.lineTo(x(t), y(rate))));
  context.stroke();
  context.fillStyle = "#555";
  context.font = "12px system-ui, sans-serif";
  context.fillText(`max ${top.toFixed(1)}/s`, 6, 14);
}

function show(status) {
  setText("mode", status.mode);
  setText("channels", status.mode === "shared" ? status.totals.channels : "–");
  setText("subscribers", status.mode === "shared" ? status.totals.subscribers : "–");
  setText("delivered", status.delivered);
  setText("published", status.published);
  setText("presence-users", status.presence.users);
  showTransports(status.streams);
  showWorkers(status);
  showRedis(status.redis);
  showErrors(status.errors);
  if (last !== undefined && status.time > last.time) {
    const rate = Math.max(0, status.delivered - last.delivered) / (status.time - last.time);
    rates.push([status.time, rate]);
    while (rates.length > 0 && rates[0][0] < status.time - KEPT_S) {
      rates.shift();
    }
    setText("rate", rate.toFixed(1));
  }
  last = { time: status.time, delivered: status.delivered };
  drawChart();
}

function askForKey(text) {
  setState("needs-key", text);
  $("panels").hidden = true;
  $("key-form").hidden = false;
  $("key").focus();
}

async function poll() {
  const key = sessionStorage.getItem(KEY_ITEM);
  const headers = key !== null ? { Authorization: `Bearer ${key}` } : {};
  try {
    const answer = await fetch("/status", { headers, cache: "no-store" });
    if (answer.status === 401) {
      if (key !== null) {
        sessionStorage.removeItem(KEY_ITEM);
        askForKey("That key was refused: enter the admin key (PUSHGATE_ADMIN_KEY) or the publisher key.");
      } else {
        askForKey("This gateway has credentials on: enter its admin key (PUSHGATE_ADMIN_KEY) or its publisher key to see its status.");
      }
      return; // polling resumes when a key is entered
    }
    if (!answer.ok) {
      throw new Error(`GET /status answered ${answer.status}`);
    }
    show(await answer.json());
    $("key-form").hidden = true;
    $("panels").hidden = false;
    setState("live", `Live: updated ${new Date().toLocaleTimeString()}.`);
  } catch (e) {
    setState("error", `Cannot read the status: ${e.message}; trying again.`);
  }
  timer = setTimeout(poll, POLL_MS);
}

$("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(KEY_ITEM, $("key").value);
  $("key").value = "";
  clearTimeout(timer);
  setState("loading", "Loading…");
  void poll();
});

void poll();
