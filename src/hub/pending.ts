// What a shard connection (shard.ts) has sent and not had answered yet, in order: a FIFO of its
// subscription commands ([verb, channel]), its PINGs, and the waiters of the store's commands
// (mux.ts). Redis answers commands in order, so a reply that is not a push answers the head. A
// waiter is one caller's pipeline (one or more commands sent together): it collects that many
// replies, then its semaphore is posted. A caller that gave up waiting marks its waiter abandoned;
// the waiter stays in the FIFO, so its late replies are read and dropped, never handed to the
// next. Waiters are recycled with their semaphores.

import semaphore = require("ngx.semaphore");

/** One caller's commands on a shard connection, and their replies. */
export interface Waiter {
  sema: NgxSemaphore;
  /** The commands as one fragment array for sock:send, and how many replies they bring. */
  fragments: string[] | undefined;
  expected: number;
  /** The replies so far, in order: an error reply as [false, message]. */
  replies: unknown[];
  /** Set by the writer when the commands left; when. */
  sent: boolean;
  sentAt: number;
  /** Every reply is in (or `err` says why none will come). */
  done: boolean;
  err: string | undefined;
  abandoned: boolean;
}

/** A subscription command ([verb, channel]), a PING (["PING", ""]) or a store waiter. */
export type Pending = [string, string] | Waiter;

/** A FIFO without shifting: items from `head` to `tail - 1`. */
export interface Fifo {
  items: LuaTable<number, Pending>;
  head: number;
  tail: number;
}

const spare: Waiter[] = [];
const SPARE_MAX = 64;

export function newFifo(): Fifo {
  return { items: new LuaTable<number, Pending>(), head: 1, tail: 1 };
}

export function push(fifo: Fifo, item: Pending): void {
  fifo.items.set(fifo.tail, item);
  fifo.tail += 1;
}

export function peek(fifo: Fifo): Pending | undefined {
  return fifo.head < fifo.tail ? fifo.items.get(fifo.head) : undefined;
}

export function pop(fifo: Fifo): Pending | undefined {
  if (fifo.head >= fifo.tail) {
    return undefined;
  }
  const item = fifo.items.get(fifo.head);
  fifo.items.delete(fifo.head);
  fifo.head += 1;
  return item;
}

export function isWaiter(item: Pending): item is Waiter {
  return (item as Waiter).sema !== undefined;
}

/** A waiter for `expected` replies of `fragments` (a recycled one when there is one). */
export function newWaiter(fragments: string[], expected: number): LuaMultiReturn<[Waiter] | [undefined, string]> {
  const reused = spare.pop();
  if (reused !== undefined) {
    reused.fragments = fragments;
    reused.expected = expected;
    reused.replies = [];
    return $multi(reused);
  }
  const [sema, err] = semaphore.new(0);
  if (sema === undefined) {
    return $multi(undefined, `failed to create semaphore: ${err}`);
  }
  return $multi({ sema, fragments, expected, replies: [], sent: false, sentAt: 0, done: false, err: undefined, abandoned: false });
}

/** Hands a finished waiter back for reuse (its caller is done with it, and no FIFO holds it). */
export function recycle(waiter: Waiter): void {
  waiter.fragments = undefined;
  waiter.sent = false;
  waiter.done = false;
  waiter.err = undefined;
  waiter.abandoned = false;
  // a post that raced a timeout: take it back (wait(0) never yields)
  while (waiter.sema.count() > 0 && waiter.sema.wait(0)[0] === true) {
    // taken
  }
  if (spare.length < SPARE_MAX) {
    spare.push(waiter);
  }
}

/** A reply for the waiter at the head: stored; once all are in, the caller is woken (or, abandoned, the waiter recycled). */
export function answer(fifo: Fifo, waiter: Waiter, reply: unknown): void {
  if (waiter.abandoned) {
    waiter.expected -= 1; // counts down the replies still to come (mux.ts set it so when it gave up)
    if (waiter.expected <= 0) {
      pop(fifo);
      recycle(waiter);
    }
    return;
  }
  waiter.replies.push(reply);
  if (waiter.replies.length < waiter.expected) {
    return;
  }
  pop(fifo);
  waiter.done = true;
  waiter.sema.post(1);
}

/** The connection ended: the waiter learns why (whether its commands left says whether they may have run). */
export function fail(waiter: Waiter, why: string): void {
  if (waiter.abandoned) {
    recycle(waiter);
    return;
  }
  waiter.err = why;
  waiter.done = true;
  waiter.sema.post(1);
}
