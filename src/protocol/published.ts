// What a durable publish takes and answers, the same for POST /pub, WebSocket frames and the
// store that carries it out.

export interface PublishOptions {
  /** Event name ("" or undefined: none); validated by the caller (isValidEvent). */
  event?: string;
  /** A retry with the same key within the idempotency window is stored and sent once. */
  idempotencyKey?: string;
}

export interface Published {
  /** The message id: the stream entry id, monotonic per channel. */
  id: string;
  /** Redis subscriptions that received it (one per stream in direct mode, per worker in shared). */
  subscribers: number;
  /** True when the idempotency key had been seen: nothing was stored or sent again. */
  duplicate: boolean;
}
