// Many calls of one Redis function in a cluster, pipelined per node: the calls are grouped by the
// primary the slot map names for each call's first key, and each group goes out as one pipeline
// (one write, one round trip per node) on this worker's connection to that node (hub/mux.ts). What a pipeline cannot
// settle is left to the caller to send alone through the routed path (which follows MOVED and
// ASK and loads a missing library): a call redirected or refused while the cluster changes, a
// call whose slot has no known owner, or one that found the library missing. A call whose
// connection broke is not sent again (it may have run): its error says so. The server API's
// batches (broadcast, publish_many) use it; one call at a time is store/cluster/client.ts.

import * as mux from "../../hub/mux";
import { keySlot } from "../../protocol/slot";
import { fcallWords } from "../functions";
import { addressFor, ClusterState, isErrorReply } from "./client";
import { isClusterDown, isTryAgain, parseRedirect } from "./redirect";
import { ownerOf } from "./slots";

/** One call of a batch: its keys (all of one slot) and args; after fcallByNode, how it ended. */
export interface BatchCall {
  keys: string[];
  args: string[];
  /** The function's reply. */
  reply?: RedisReply;
  /** A Redis error reply, or why the call's connection failed. */
  err?: string;
  /** Send this call again alone, through the routed path. */
  again?: boolean;
}

/** Whether an error reply means "not here, or not now": the routed path settles it. */
function routeAgain(err: string, host: string): boolean {
  return parseRedirect(err, host) !== undefined || isTryAgain(err) || isClusterDown(err) || string.find(err, "Function not found", 1, true)[0] !== undefined;
}

/** One node's calls as one pipeline on this worker's connection to it. */
function sendGroup(state: ClusterState, name: string, calls: BatchCall[], group: number[], host: string, port: number, node: string): void {
  const commands: string[][] = [];
  for (const i of group) {
    commands.push(fcallWords(name, calls[i].keys, calls[i].args));
  }
  const [replies, err, sent] = mux.call(addressFor(state, node, host, port), commands, state.timeoutMs);
  if (replies === undefined) {
    for (const i of group) {
      if (sent) {
        calls[i].err = `the connection to ${node} broke: ${err}`;
      } else {
        calls[i].again = true; // nothing was sent: the routed path asks the cluster again
      }
    }
    ngx.log(ngx.WARN, err);
    return;
  }
  for (let n = 0; n < group.length; n++) {
    const call = calls[group[n]];
    const reply = replies[n];
    if (!isErrorReply(reply)) {
      call.reply = reply as RedisReply;
    } else {
      const text = `${reply[1]}`;
      if (routeAgain(text, host)) {
        call.again = true;
      } else {
        call.err = text;
      }
    }
  }
}

/** FCALL `name` for each of `calls`, one pipeline per owning primary; sets each call's reply, err or again. */
export function fcallByNode(state: ClusterState, name: string, calls: BatchCall[]): void {
  const groups = new LuaMap<string, number[]>();
  const nodes: string[] = [];
  const hosts = new LuaMap<string, [string, number]>();
  for (let i = 0; i < calls.length; i++) {
    const owner = ownerOf(state.map, keySlot(calls[i].keys[0]));
    if (owner === undefined) {
      calls[i].again = true;
    } else {
      let group = groups.get(owner.name);
      if (group === undefined) {
        group = [];
        groups.set(owner.name, group);
        hosts.set(owner.name, [owner.host, owner.port]);
        nodes.push(owner.name);
      }
      group.push(i);
    }
  }
  for (const node of nodes) {
    const [host, port] = hosts.get(node) as [string, number];
    sendGroup(state, name, calls, groups.get(node) as number[], host, port, node);
  }
}
