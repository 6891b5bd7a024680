// A Redis Cluster client core for nginx workers: the routing of one operation by its key's hash
// slot (the worker's cluster state, its slot map and node addresses, is state.ts) over this
// worker's one connection per primary (hub/mux.ts: the hub's shard connection carries the
// commands too), following MOVED (the map is refreshed) and ASK (ASKING and the command sent
// together to the named node), a bounded number of times. A node that cannot be reached makes the
// worker ask the cluster again: after a failover the map names the promoted replica.
//
// One operation, with no closure (what command() does; a caller may run its own pipelines so):
//   const attempt = begin(state, key, true);
//   for (;;) {
//     const [outcome, replies] = step(state, attempt, [["GET", key]]);  // to the owner, ASKING first when due
//     if (outcome === undefined) return fail(replies);                // why it gave up
//     if (outcome === "done") return replies[0];                      // [false, message] for an error reply
//   }                                                                  // "retry": go round again

import * as mux from "../../hub/mux";
import { keySlot } from "../../protocol/slot";
import { isClusterDown, isTryAgain, parseRedirect, Redirect } from "./redirect";
import { ownerOf } from "./slots";
import { addressFor, ClusterState, refreshSoon } from "./state";

export { addressFor, discover, refresh } from "./state";
export type { ClusterState, Seed } from "./state";

/** The routing state of one operation (one table per operation; pass `reuse` to begin() to recycle one). */
export interface Attempt {
  slot: number;
  /** The command may run twice (a read, a SET): then a lost connection is retried on the new owner. */
  idempotent: boolean;
  /** Redirects and retries so far, bounded by MAX_REDIRECTS. */
  redirects: number;
  /** Where the last MOVED or ASK sent the command; tried before the map's owner, once. */
  target: Redirect | undefined;
  /** The node the last connection went to (also the host for redirects that give none). */
  node: string;
  host: string;
  port: number;
}

/** Redirects (MOVED, ASK, TRYAGAIN) and retries after a lost connection, per operation. */
export const MAX_REDIRECTS = 5;

/** How long to wait before another try after TRYAGAIN (seconds). */
const TRY_AGAIN_WAIT_S = 0.05;

/** Starts routing an operation on `key` (its bytes); `reuse` recycles a finished attempt's table. */
export function begin(state: ClusterState, key: string, idempotent: boolean, reuse?: Attempt): Attempt {
  const slot = keySlot(key);
  if (reuse === undefined) {
    return { slot, idempotent, redirects: 0, target: undefined, node: "", host: "", port: 0 };
  }
  reuse.slot = slot;
  reuse.idempotent = idempotent;
  reuse.redirects = 0;
  reuse.target = undefined;
  reuse.node = "";
  reuse.host = "";
  reuse.port = 0;
  return reuse;
}

/** The node for the attempt's next try: the last redirect's, else the slot's owner in the map (refreshed when it has none). */
function chooseNode(state: ClusterState, attempt: Attempt, target: Redirect | undefined): string | undefined {
  if (target !== undefined) {
    attempt.node = target.name;
    attempt.host = target.host;
    attempt.port = target.port;
    return undefined;
  }
  let owner = ownerOf(state.map, attempt.slot);
  if (owner === undefined) {
    refreshSoon(state);
    owner = ownerOf(state.map, attempt.slot);
    if (owner === undefined) {
      return `failed to route slot ${attempt.slot}: no cluster node serves it`;
    }
  }
  attempt.node = owner.name;
  attempt.host = owner.host;
  attempt.port = owner.port;
  return undefined;
}

/**
 * After a try whose commands got no reply (their connection failed or ended, or the wait ran out):
 * "retry" when they may go again — they never left and the map now names another owner, or the
 * operation is idempotent — else undefined and why.
 */
function afterLoss(state: ClusterState, attempt: Attempt, err: string, sent: boolean, redirected: boolean): LuaMultiReturn<["retry"] | [undefined, string]> {
  refreshSoon(state); // a dead primary: its replica may have taken over its slots
  if (attempt.redirects < MAX_REDIRECTS) {
    const owner = ownerOf(state.map, attempt.slot);
    const elsewhere = redirected || (owner !== undefined && owner.name !== attempt.node);
    if ((!sent && elsewhere) || (sent && attempt.idempotent)) {
      attempt.redirects += 1;
      return $multi("retry");
    }
  }
  return $multi(undefined, `failed to run a command on redis at ${attempt.node}: ${err}`);
}

/** After an error reply to the routed command: "done" (a plain error), "retry" (MOVED, ASK, TRYAGAIN), or undefined and why. */
function afterError(state: ClusterState, attempt: Attempt, err: string): LuaMultiReturn<["done" | "retry"] | [undefined, string]> {
  const redirect = parseRedirect(err, attempt.host);
  const tryAgain = redirect === undefined && isTryAgain(err);
  if (redirect === undefined && !tryAgain) {
    if (isClusterDown(err)) {
      refreshSoon(state);
    }
    return $multi("done");
  }
  if (attempt.redirects >= MAX_REDIRECTS) {
    return $multi(undefined, `failed to route slot ${attempt.slot}: ${MAX_REDIRECTS} redirects, the last ${err}`);
  }
  attempt.redirects += 1;
  if (redirect === undefined) {
    ngx.sleep(TRY_AGAIN_WAIT_S);
    return $multi("retry");
  }
  attempt.target = redirect;
  if (redirect.kind === "moved") {
    refreshSoon(state);
  }
  return $multi("retry");
}

/** Whether a reply in a list of replies is an error reply: [false, message]. */
export function isErrorReply(reply: unknown): reply is [false, string] {
  return type(reply) === "table" && (reply as unknown[])[0] === false;
}

/**
 * One try of an operation: sends `commands` (the routed command first; more may follow it on the
 * same connection, e.g. a WAIT) to the node that should serve the attempt's slot, on this
 * worker's connection to it (hub/mux.ts), ASKING first after an ASK. Returns "done" and the
 * replies (an error reply as [false, message]: a plain Redis error is "done" too); "retry": call
 * again (after MOVED, ASK, TRYAGAIN, or a lost connection that allows it); or undefined and why:
 * give up. `extraMs`: how much longer than the timeout the commands may take (a WAIT).
 */
export function step(
  state: ClusterState,
  attempt: Attempt,
  commands: string[][],
  extraMs = 0,
): LuaMultiReturn<["done", unknown[]] | ["retry", undefined] | [undefined, string]> {
  const target = attempt.target;
  attempt.target = undefined;
  const routeErr = chooseNode(state, attempt, target);
  if (routeErr !== undefined) {
    return $multi(undefined, routeErr);
  }
  let pipeline = commands;
  const asking = target !== undefined && target.kind === "ask";
  if (asking) {
    pipeline = [["ASKING"]];
    for (const words of commands) {
      pipeline.push(words);
    }
  }
  const address = addressFor(state, attempt.node, attempt.host, attempt.port);
  const [replies, err, sent] = mux.call(address, pipeline, state.timeoutMs + extraMs);
  if (replies === undefined) {
    const [retry, lossErr] = afterLoss(state, attempt, err, sent, target !== undefined);
    if (retry === undefined) {
      return $multi(undefined, lossErr);
    }
    return $multi("retry", undefined);
  }
  if (asking) {
    const asked = table.remove(replies, 1);
    if (isErrorReply(asked)) {
      return $multi(undefined, `failed to send asking to ${attempt.node}: ${asked[1]}`);
    }
  }
  const first = replies[0];
  if (!isErrorReply(first)) {
    return $multi("done", replies);
  }
  const [outcome, errorErr] = afterError(state, attempt, `${first[1]}`);
  if (outcome === undefined) {
    return $multi(undefined, errorErr);
  }
  if (outcome === "done") {
    return $multi("done", replies);
  }
  return $multi("retry", undefined);
}

/**
 * Runs command `name` with `args` on the node serving `key`, following redirects. Returns what
 * resty.redis would: the reply, `false` and a Redis error message, or undefined and a failure.
 */
export function command(
  state: ClusterState,
  key: string,
  idempotent: boolean,
  name: string,
  args: string[],
): LuaMultiReturn<[RedisReply] | [undefined | false, string]> {
  const attempt = begin(state, key, idempotent);
  const words = [name];
  for (const arg of args) {
    words.push(arg);
  }
  const commands = [words];
  for (;;) {
    const [outcome, replies] = step(state, attempt, commands);
    if (outcome === undefined) {
      return $multi(undefined, `${replies as unknown as string}`);
    }
    if (outcome === "done") {
      const reply = (replies as unknown[])[0];
      if (isErrorReply(reply)) {
        return $multi(false as const, `${reply[1]}`);
      }
      return $multi(reply as RedisReply);
    }
  }
}
