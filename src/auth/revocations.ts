// Revoked tokens, as one worker knows them (filled by stream/control.ts from Redis): single
// tokens by their `jti`, and a user's tokens issued before a time. Pure: a connect is checked
// against this table, with no Redis round trip; the same rules run in Node for the tests.

export class Revocations {
  /** Revoked token ids. */
  private readonly ids: Record<string, true> = {};
  /** Per user: tokens issued before this time (s since the epoch) are revoked. */
  private readonly before: Record<string, number> = {};

  /** Revokes one token by its id. */
  revokeId(jti: string): void {
    this.ids[jti] = true;
  }

  /** Revokes the tokens of `user` issued before `time` (s); a later revocation moves the time on only. */
  revokeBefore(user: string, time: number): void {
    const old = this.before[user];
    if (old === undefined || time > old) {
      this.before[user] = time;
    }
  }

  /** One revocation as Redis keeps it (pushgate_control_snapshot): `jti:<id>` or `user:<user>` with its time. */
  load(field: string, value: string): void {
    if (field.startsWith("jti:")) {
      this.revokeId(field.substring(4));
    } else if (field.startsWith("user:")) {
      const time = Number(value);
      if (Number.isFinite(time)) {
        this.revokeBefore(field.substring(5), time);
      }
    }
  }

  /**
   * Why a token of `user` with this id and issue time (s) is refused, or undefined when it is not
   * revoked. A token without iat is passed as issued at 0: it cannot show it is newer than a revocation.
   */
  refusal(user: string | undefined, jti: string | undefined, issued: number): string | undefined {
    if (jti !== undefined && this.ids[jti] === true) {
      return "token revoked";
    }
    if (user !== undefined) {
      const before = this.before[user];
      if (before !== undefined && issued < before) {
        return "token revoked: the user's tokens issued before this one's revocation time are refused";
      }
    }
    return undefined;
  }
}
