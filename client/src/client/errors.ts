// What goes wrong, as one error type: the gateway's refusal (with its status and reason), or a
// failure on the way. `fatal` says the subscription has stopped because of it.

export class PushgateError extends Error {
  /** The HTTP status when the gateway answered one; undefined otherwise. */
  readonly status: number | undefined;
  /** True when the subscription stopped (state `closed`) because of this error. */
  readonly fatal: boolean;
  /** How long the gateway asked to wait (Retry-After), in milliseconds. */
  readonly retryAfterMs: number | undefined;

  constructor(message: string, options: { status?: number; fatal?: boolean; retryAfterMs?: number } = {}) {
    super(message);
    this.name = "PushgateError";
    this.status = options.status;
    this.fatal = options.fatal ?? false;
    this.retryAfterMs = options.retryAfterMs;
  }
}

export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
