// A subscriber of the hub: one stream's bounded queue of messages, the semaphore its request
// thread waits on, and the overflow policy. Its fields are this module's own: the registry
// fills queues, the stream's thread (subscribe/shared.ts) takes from them, both through here.

/** What the hub and the stream see of a subscriber. */
export interface Subscriber {
  /** The channels it is registered on (the registry keeps this list). */
  readonly channels: string[];
}

/** How much one queue may hold, and what happens when it is full. */
export interface QueueLimits {
  messages: number;
  bytes: number;
  overflow: "disconnect" | "drop-oldest" | "catch-up";
}

/**
 * A queue's messages head..tail, four slots each from QUEUE_SLOTS * index: channel, data, id and
 * event name (id and event absent for a plain PUBLISH); a notice has channel "" and its code as
 * data. One table rather than one per field or message.
 */
interface Messages {
  head: number;
  tail: number;
  /** The bytes of the data queued. */
  bytes: number;
  [slot: number]: string | undefined;
}

interface Queue extends Subscriber {
  channels: string[];
  sema: NgxSemaphore;
  /** The request thread waits on `sema`; the hub posts only then, so posts never pile up. */
  waiting: boolean;
  // The rest are absent until first set: an idle stream's record has 3 fields, a hash of 4 slots
  // (bench/probes/memory-map.js: 0.5 KB less per stream than 7 fields and a slots table).
  /** Made for the first message. */
  messages?: Messages;
  /** Messages dropped (drop-oldest) and not yet reported to the client. */
  dropped?: number;
  /** Set when the stream ends: "overflow" or "shutdown" (the hub), "ended" (the server API, through subscribe/shared). */
  ended?: string;
  /** Catching up from history (policy catch-up): live messages are not queued meanwhile. */
  lagging?: true;
}

const QUEUE_SLOTS = 4;

export function create(sema: NgxSemaphore, channels: string[]): Subscriber {
  const queue: Queue = { channels, sema, waiting: false };
  return queue;
}

export function setChannels(subscriber: Subscriber, channels: string[]): void {
  (subscriber as Queue).channels = channels;
}

/** Lets a waiting stream thread run (once: posts never pile up). */
export function wake(subscriber: Subscriber): void {
  const queue = subscriber as Queue;
  if (queue.waiting) {
    queue.waiting = false;
    queue.sema.post(1);
  }
}

/** Waits up to `seconds` for wake(); true when woken. Only the stream's own thread waits. */
export function wait(subscriber: Subscriber, seconds: number): boolean {
  const queue = subscriber as Queue;
  queue.waiting = true;
  const [woken] = queue.sema.wait(seconds);
  queue.waiting = false;
  return woken === true;
}

export function isEmpty(subscriber: Subscriber): boolean {
  const messages = (subscriber as Queue).messages;
  return messages === undefined || messages.head > messages.tail;
}

/** The queue's messages, made for its first. */
function messagesOf(queue: Queue): Messages {
  return (queue.messages ??= { head: 1, tail: 0, bytes: 0 });
}

/**
 * Takes the oldest queued message: channel ("" for a notice), data, id and event ("" when the
 * message has none). Call only when not isEmpty().
 */
export function shift(subscriber: Subscriber): LuaMultiReturn<[string, string, string, string]> {
  const messages = (subscriber as Queue).messages!; // not empty: a message made it
  const slot = messages.head * QUEUE_SLOTS;
  const channel = messages[slot]!;
  const data = messages[slot + 1]!;
  const id = messages[slot + 2] ?? "";
  const event = messages[slot + 3] ?? "";
  messages[slot] = undefined;
  messages[slot + 1] = undefined;
  messages[slot + 2] = undefined;
  messages[slot + 3] = undefined;
  messages.head += 1;
  messages.bytes -= data.length;
  return $multi(channel, data, id, event);
}

/** Counts `n` more dropped messages (the count is absent until the first). */
function countDropped(queue: Queue, n: number): void {
  queue.dropped = (queue.dropped ?? 0) + n;
}

/** True when messages were dropped and not yet reported. */
export function hasDropped(subscriber: Subscriber): boolean {
  return ((subscriber as Queue).dropped ?? 0) > 0;
}

/** How many messages were dropped since the last call (drop-oldest), and resets the count. */
export function takeDropped(subscriber: Subscriber): number {
  const queue = subscriber as Queue;
  const dropped = queue.dropped;
  if (dropped === undefined || dropped === 0) {
    return 0;
  }
  queue.dropped = 0;
  return dropped;
}

/** Why the stream was ended ("overflow", "shutdown", "ended"), or undefined while it goes on. */
export function endedBy(subscriber: Subscriber): string | undefined {
  return (subscriber as Queue).ended;
}

/** True while the stream catches up from history (policy catch-up) and the hub queues no messages for it. */
export function isLagging(subscriber: Subscriber): boolean {
  return (subscriber as Queue).lagging === true;
}

/** The stream has caught up: the hub queues its messages again. */
export function caughtUp(subscriber: Subscriber): void {
  (subscriber as Queue).lagging = undefined;
}

/** Ends the stream: its thread sees `reason` once the queue is drained. */
export function end(subscriber: Subscriber, reason: string): void {
  (subscriber as Queue).ended = reason;
  wake(subscriber);
}

function isFull(messages: Messages, size: number, limits: QueueLimits): boolean {
  return messages.tail - messages.head + 1 >= limits.messages || messages.bytes + size > limits.bytes;
}

/**
 * Empties a full queue and has the stream catch up from history: the durable messages it held
 * are read again from there; the plain ones (and a plain newcomer) are dropped and counted.
 */
function lag(queue: Queue, messages: Messages, plainNewcomer: boolean): number {
  let dropped = plainNewcomer ? 1 : 0;
  const notices: string[] = [];
  while (messages.head <= messages.tail) {
    const [channel, data, id] = shift(queue);
    if (channel === "") {
      notices.push(data, id); // notices are kept: they are not in any history
    } else if (id === "") {
      dropped += 1;
    }
  }
  queue.lagging = true;
  countDropped(queue, dropped);
  for (let i = 0; i < notices.length; i += 2) {
    const tail = messages.tail + 1;
    messages.tail = tail;
    messages[tail * QUEUE_SLOTS] = "";
    messages[tail * QUEUE_SLOTS + 1] = notices[i];
    if (notices[i + 1] !== "") {
      messages[tail * QUEUE_SLOTS + 2] = notices[i + 1];
    }
    messages.bytes += notices[i].length;
  }
  wake(queue);
  return dropped;
}

/**
 * Appends a message (or a notice: channel "") and wakes the stream, applying the overflow policy
 * when the queue is full. Returns how many messages were dropped, and whether the queue
 * overflowed (policy disconnect: the stream ends; catch-up: it reads from history).
 */
export function enqueue(
  subscriber: Subscriber,
  channel: string,
  data: string,
  id: string | undefined,
  event: string | undefined,
  limits: QueueLimits,
): LuaMultiReturn<[number, boolean]> {
  const queue = subscriber as Queue;
  if (queue.ended !== undefined) {
    return $multi(0, false);
  }
  if (queue.lagging === true && channel !== "") {
    // the stream reads durable messages from history; a plain one is not kept: it is dropped
    if (id === undefined) {
      countDropped(queue, 1);
      return $multi(1, false);
    }
    return $multi(0, false);
  }
  const size = data.length;
  const messages = messagesOf(queue);
  let dropped = 0;
  if (isFull(messages, size, limits)) {
    if (limits.overflow === "disconnect") {
      end(queue, "overflow");
      return $multi(0, true);
    }
    if (limits.overflow === "catch-up") {
      return $multi(lag(queue, messages, id === undefined), true);
    }
    if (size > limits.bytes) {
      // it can never fit: drop it alone, and keep what is queued
      countDropped(queue, 1);
      wake(queue);
      return $multi(1, false);
    }
    while (messages.head <= messages.tail && isFull(messages, size, limits)) {
      shift(queue);
      dropped += 1;
    }
    countDropped(queue, dropped);
  }
  const tail = messages.tail + 1;
  messages.tail = tail;
  const slot = tail * QUEUE_SLOTS;
  messages[slot] = channel;
  messages[slot + 1] = data;
  if (id !== undefined) {
    messages[slot + 2] = id;
    messages[slot + 3] = event ?? "";
  }
  messages.bytes += size;
  wake(queue);
  return $multi(dropped, false);
}
