// The timings every subscribe connection of the hub keeps, one Redis (connection.ts) or one
// shard of a cluster (shard.ts) alike.

/** The reader wakes this often to check shutdown and liveness (ms): a reload ends the streams sooner than a second. */
export const READ_IDLE_MS = 250;
/** The writer wakes this often to unsubscribe emptied channels and ping (s). */
export const WRITER_TICK_S = 0.25;
/** The writer pings an idle connection this often (s); no reply within LIVENESS_S means it is dead. */
export const PING_EVERY_S = 5;
export const LIVENESS_S = 15;
/**
 * After this many replies in a row the reader yields, so the streams it woke can write before it
 * reads on (a cosocket read returns without yielding while Redis has more buffered). It yields
 * with a 1 ms sleep: ngx.sleep(0) needs a patch of OpenResty's nginx, and without it logs a
 * warning on every call.
 */
export const REPLIES_PER_YIELD = 64;
export const YIELD_S = 0.001;
/** How often a busy reader looks whether the worker is exiting (s): streams end within a second of a reload. */
export const EXIT_CHECK_S = 0.2;
