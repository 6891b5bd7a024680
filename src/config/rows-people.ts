// Settings rows (see table.ts): presence, join and leave, offline and unread events.

import type { Setting } from "./table";

export const PEOPLE_ROWS: Setting[] = [
  {
    key: "presenceNotify",
    env: "PUSHGATE_PRESENCE",
    default: "",
    kind: "list",
    item: "pattern",
    empty: true,
    doc: "channels whose subscribers receive `join` and `leave` events with the user id (e.g. `room:*,user:*`); empty: none",
  },
  {
    key: "presenceGraceSeconds",
    env: "PUSHGATE_PRESENCE_GRACE_SECONDS",
    default: "5",
    kind: "number",
    min: 0,
    max: 600,
    doc: "a user whose last connection to a channel ended and who is back within this is neither a leave nor a join",
  },
  {
    key: "presenceRefreshSeconds",
    env: "PUSHGATE_PRESENCE_REFRESH_SECONDS",
    default: "10",
    kind: "number",
    min: 0.5,
    max: 300,
    doc: "gateways refresh their presence entries this often; entries live 2.5 times as long, so a gateway that dies drops out within about two intervals",
  },
  {
    key: "offlineGraceSeconds",
    env: "PUSHGATE_OFFLINE_GRACE_SECONDS",
    default: "30",
    kind: "number",
    min: 0,
    max: 86400,
    doc: "a user whose last connection on any gateway ended and who is not back within this gets an `offline` event in `pushgate:events`; 0: no offline events",
  },
  {
    key: "unreadNotifySeconds",
    env: "PUSHGATE_UNREAD_NOTIFY_SECONDS",
    default: "0",
    kind: "number",
    min: 0,
    max: 604800,
    doc: "a message in a user's inbox (`user:<id>`) still unread this long after it was published gets an `unread` event in `pushgate:events`; 0: no unread events",
  },
  {
    key: "eventsMaxLength",
    env: "PUSHGATE_EVENTS_MAX_LENGTH",
    default: "100000",
    kind: "integer",
    min: 1,
    max: 100000000,
    doc: "`pushgate:events` keeps about this many of the newest events (XADD MAXLEN ~)",
  },
];
