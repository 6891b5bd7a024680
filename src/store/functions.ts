// Calls Pushgate's Redis functions (redis/pushgate.lua) by name, loading the library into Redis
// when it is missing there (a fresh or restarted Redis): FCALL, and on "Function not found",
// FUNCTION LOAD REPLACE and FCALL again. In a cluster the same commands go as words through the
// worker's connection to each primary (store/topology.ts, hub/mux.ts).

/** The library's source text; scripts/build wraps redis/pushgate.lua as this module. */
const LIBRARY_MODULE = "pushgate.redis_library";

/** resty.redis sends any command by its lower-case name; these two are not in its fixed list. */
interface FunctionCalls {
  fcall(this: FunctionCalls, ...args: string[]): LuaMultiReturn<[RedisReply] | [undefined | false, string]>;
  ["function"](this: FunctionCalls, ...args: string[]): LuaMultiReturn<[RedisReply] | [undefined | false, string]>;
}

function librarySource(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- Lua's require, of the generated module
  return require(LIBRARY_MODULE) as string;
}

/** FCALL name numkeys keys... args... as the words of one command (a cluster sends it through hub/mux.ts). */
export function fcallWords(name: string, keys: string[], args: string[]): string[] {
  const words = ["FCALL", name, `${keys.length}`];
  for (const key of keys) {
    words.push(key);
  }
  for (const arg of args) {
    words.push(arg);
  }
  return words;
}

/** FUNCTION LOAD REPLACE <library> as the words of one command. */
export function loadWords(): string[] {
  return ["FUNCTION", "LOAD", "REPLACE", librarySource()];
}

/** Loads (or replaces) the library in the Redis behind `red`. */
export function loadLibrary(red: RestyRedis): LuaMultiReturn<[true] | [undefined, string]> {
  const [loaded, err] = (red as unknown as FunctionCalls).function("LOAD", "REPLACE", librarySource());
  if (loaded === undefined || loaded === false) {
    return $multi(undefined, `failed to load the pushgate functions into redis: ${err}`);
  }
  return $multi(true);
}

/**
 * FCALL name with `keys` and `args`. Returns the reply, or undefined, the error, and whether the
 * connection is lost (then it must be closed, not pooled: redis.release(red, lost)) rather than the call refused by Redis.
 */
export function call(red: RestyRedis, name: string, keys: string[], args: string[]): LuaMultiReturn<[RedisReply] | [undefined, string, boolean]> {
  const calls = red as unknown as FunctionCalls;
  // One array and one unpack: spreading two arrays into a call makes TSTL build a vararg table.
  const words = [name, `${keys.length}`];
  for (const key of keys) {
    words.push(key);
  }
  for (const arg of args) {
    words.push(arg);
  }
  let [reply, err] = calls.fcall(...words);
  if (reply === false && string.find(`${err}`, "Function not found", 1, true)[0] !== undefined) {
    const [loaded, loadErr] = loadLibrary(red);
    if (loaded === undefined) {
      return $multi(undefined, loadErr, false);
    }
    [reply, err] = calls.fcall(...words);
  }
  if (reply === undefined) {
    return $multi(undefined, `${err}`, true);
  }
  if (reply === false) {
    return $multi(undefined, `${err}`, false);
  }
  return $multi(reply);
}

/** One call of a batch: the function's name, its keys, its args. */
export type FunctionCall = [string, string[], string[]];

/** A reply of callMany(): the reply, or false and the error for a call Redis refused. */
export type BatchReply = RedisReply | [false, string];

/** True when a reply of callMany() is a refusal; its error is the second field. */
export function refused(reply: BatchReply): reply is [false, string] {
  return type(reply) === "table" && (reply as unknown[])[0] === false;
}

function sendBatch(red: RestyRedis, calls: FunctionCall[]): LuaMultiReturn<[BatchReply[]] | [undefined, string]> {
  const fcalls = red as unknown as FunctionCalls;
  red.init_pipeline(calls.length);
  for (const [name, keys, args] of calls) {
    const words = [name, `${keys.length}`];
    for (const key of keys) {
      words.push(key);
    }
    for (const arg of args) {
      words.push(arg);
    }
    fcalls.fcall(...words);
  }
  const [replies, err] = red.commit_pipeline();
  if (replies === undefined) {
    return $multi(undefined, `${err}`);
  }
  return $multi(replies as unknown as BatchReply[]);
}

/**
 * FCALLs `calls` in one pipeline (one write, one round trip), loading the library first when
 * Redis lacks it. The replies in order, a refused call's as [false, error]; undefined and the
 * error when the connection is lost (close it). For calls that may run twice (idempotent): after
 * a library load the whole batch is sent again.
 */
export function callMany(red: RestyRedis, calls: FunctionCall[]): LuaMultiReturn<[BatchReply[]] | [undefined, string]> {
  const [replies, err] = sendBatch(red, calls);
  if (replies === undefined) {
    return $multi(undefined, err);
  }
  const first = replies[0];
  if (first !== undefined && refused(first) && string.find(first[1], "Function not found", 1, true)[0] !== undefined) {
    const [loaded, loadErr] = loadLibrary(red);
    if (loaded === undefined) {
      return $multi(undefined, loadErr);
    }
    return sendBatch(red, calls);
  }
  return $multi(replies);
}
