// The notices a stream gets about its subscription: stable codes, and the text for people.

export const NOTICE_TEXT: Record<string, string> = {
  "redis-lost": "redis connection lost: messages published until it is restored may be missed",
  "redis-restored": "redis connection restored: subscribed again",
};

/** After a reconnect: how many messages of `channel` history gave back. */
export function recoveredText(count: number, channel: string): string {
  return `${count} messages of ${channel} published while redis was unreachable, recovered from history`;
}

/** After a reconnect: history of `channel` no longer reaches back to where the stream was. */
export function missedGapText(channel: string): string {
  return `messages of ${channel} published while redis was unreachable are no longer all kept`;
}
