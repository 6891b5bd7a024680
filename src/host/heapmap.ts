// What a worker's open streams hold in memory, for memory work (PUSHGATE_LUA_HEAP_MAP,
// bench/README): when `<prefix>.<pid>` is missing, each worker collects its garbage and writes there the
// Lua objects its streams and request threads reach (by the local or field that holds them, in allocator
// chunks), the threads and their stacks, the worker-wide tables that grow with its streams, and
// the nginx request pools of its streams (blocks and large allocations). The sizes are LuaJIT's
// own (GC64 layouts: 64-byte table headers, 24-byte hash nodes, 8-byte slots) and nginx's pool
// layout on 64-bit builds; a layout it does not recognise is reported, not guessed. A frame that
// waits (a semaphore's) may hold stale slots: what they reach is counted under that frame's
// locals, since the collector keeps it alive all the same.

import ffi = require("ffi");

/** A table with more entries than this, reached from a module, is a worker-wide container. */
const CONTAINER_ENTRIES = 500;
/** ngx_http_request_t's pool pointer (after signature, connection, ctx, the three conf arrays, two handlers, cache, upstream, upstream_states). */
const REQUEST_POOL_OFFSET = 88;

type Sums = LuaTable<string, number>;
type Word = LuaTable<number, unknown>;

/** The address of a GC object. */
function addressOf(value: unknown): number {
  return tonumber(string.format("%p", value)) as number;
}

/** A machine word (or `ctype`) at `address`, as a number. */
function peek(address: number, ctype = "uint64_t *"): number {
  return tonumber((ffi.cast(ctype, address) as unknown as Word).get(0)) as number;
}

/** What the allocator takes for `bytes`: 8 bytes of header, 16-byte granules, 32 at least. */
function chunk(bytes: number): number {
  return math.max(32, math.ceil((bytes + 8) / 16) * 16);
}

/** The node pointer of every empty hash part (LuaJIT's shared nil node). */
const NIL_NODE = peek(addressOf({}) + 40);

/** A table's header, array and hash part: bytes, array slots, hash slots. */
function tableSize(t: object): LuaMultiReturn<[number, number, number]> {
  const at = addressOf(t);
  const colocated = peek(at + 11, "int8_t *") !== 0;
  const arraySlots = peek(at + 48, "uint32_t *");
  const hashSlots = peek(at + 40) === NIL_NODE ? 0 : peek(at + 52, "uint32_t *") + 1;
  const hash = hashSlots > 0 ? chunk(hashSlots * 24) : 0;
  if (colocated) {
    return $multi(chunk(64 + arraySlots * 8) + hash, arraySlots, hashSlots);
  }
  return $multi(chunk(64) + (arraySlots > 0 ? chunk(arraySlots * 8) : 0) + hash, arraySlots, hashSlots);
}

/** Queues what a table holds (keys, values, metatable) or a function (upvalues), labelled under `path`; returns the function's upvalue count. */
function queueHeld(value: unknown, kind: string, path: string, stack: Array<[unknown, string]>): number {
  if (kind === "table") {
    for (const [key, field] of pairs(value as LuaTable<AnyNotNil, unknown>)) {
      stack.push([key, path], [field, typeof key === "string" ? `${path}.${key}` : `${path}[]`]);
    }
    const meta = debug.getmetatable(value as object);
    if (meta !== undefined) {
      stack.push([meta, `${path}<mt>`]);
    }
    return 0;
  }
  let upvalues = 0;
  for (let i = 1; ; i++) {
    const [name, upvalue] = debug.getupvalue(value as () => void, i);
    if (name === undefined) {
      return upvalues;
    }
    upvalues = i;
    stack.push([upvalue, `${path}^${name}`]);
  }
}

/** Whether a table has more than `limit` entries. */
function hasMore(t: LuaTable<AnyNotNil, unknown>, limit: number): boolean {
  let entries = 0;
  for (const [_] of pairs(t)) {
    entries += 1;
    if (entries > limit) {
      return true;
    }
  }
  return false;
}

/** Marks what the modules reach as shared; returns the big tables among it, by where they were found. */
function sharedObjects(seen: LuaTable<AnyNotNil, true>): LuaTable<object, string> {
  const containers = new LuaTable<object, string>();
  const stack: Array<[unknown, string]> = [[_G, "_G"]];
  while (stack.length > 0) {
    const [value, path] = stack.pop()!;
    const kind: string = type(value);
    if ((kind === "table" || kind === "function") && !seen.has(value as AnyNotNil)) {
      seen.set(value as AnyNotNil, true);
      if (kind === "table" && hasMore(value as LuaTable<AnyNotNil, unknown>, CONTAINER_ENTRIES)) {
        containers.set(value as object, path); // its entries are the streams': not shared
      } else {
        queueHeld(value, kind, path, stack);
      }
    }
  }
  return containers;
}

/** Adds to `sums`, by `label`, what `root` reaches that is not in `seen` (and marks it). */
function walk(root: unknown, label: string, seen: LuaTable<AnyNotNil, true>, sums: Sums): void {
  const add = (key: string, bytes: number): void => {
    sums.set(key, (sums.get(key) ?? 0) + bytes);
  };
  const stack: Array<[unknown, string]> = [[root, label]];
  while (stack.length > 0) {
    const [value, path] = stack.pop()!;
    const kind: string = type(value);
    if (kind === "string" && !seen.has(value as AnyNotNil)) {
      seen.set(value as AnyNotNil, true);
      add("strings", chunk(24 + (value as string).length + 1));
    } else if ((kind === "table" || kind === "function" || kind === "thread" || kind === "cdata" || kind === "userdata") && !seen.has(value as AnyNotNil)) {
      seen.set(value as AnyNotNil, true);
      if (kind === "table") {
        const [bytes, arraySlots, hashSlots] = tableSize(value as object);
        add(`${path} (table: ${arraySlots} array, ${hashSlots} hash slots)`, bytes);
        queueHeld(value, kind, path, stack);
      } else if (kind === "function") {
        const upvalues = queueHeld(value, kind, path, stack);
        add(`${path} (closure)`, chunk(40 + 8 * upvalues) + upvalues * chunk(40));
      } else if (kind === "thread") {
        const at = addressOf(value);
        const slots = peek(at + 88, "uint32_t *");
        const used = (peek(at + 40) - peek(at + 56)) / 8;
        add(`thread: ${slots} stack slots (${used} in use)`, chunk(96) + chunk(slots * 8));
        walkLocals(value as LuaThread, stack);
      } else {
        add(`${kind}s`, chunk(24));
      }
    }
  }
}

/** Queues the locals of every frame of a suspended thread, labelled by file and name. */
function walkLocals(thread: LuaThread, stack: Array<[unknown, string]>): void {
  for (let level = 0; ; level++) {
    const info = debug.getinfo(thread, level, "S");
    if (info === undefined) {
      return;
    }
    const [, , file] = string.find(info.short_src ?? "?", "([^/]*)$");
    for (let i = 1; ; i++) {
      const [name, value] = debug.getlocal(thread, level, i);
      if (name === undefined) {
        break;
      }
      stack.push([value, `${file as string}:${name}`]);
    }
  }
}

/** The request pool of the request at `request` (an ngx_http_request_t *): its blocks, bytes used in them, large allocations and their bytes. */
function poolOf(request: number): LuaMultiReturn<[number, number, number, number]> {
  const pool = peek(request + REQUEST_POOL_OFFSET);
  let blocks = 0;
  let used = 0;
  for (let block = pool; block !== 0; block = peek(block + 16)) {
    blocks += 1;
    used += peek(block) - block; // d.last
  }
  let large = 0;
  let largeBytes = 0;
  for (let link = peek(pool + 56); link !== 0; link = peek(link)) {
    const allocation = peek(link + 8);
    if (allocation !== 0) {
      large += 1;
      largeBytes += tonumber((ffi.C as unknown as MallocUsable).malloc_usable_size(ffi.cast("void *", allocation))) as number;
    }
  }
  return $multi(blocks, used, large, largeBytes);
}

/** @noSelf */
interface MallocUsable {
  malloc_usable_size(pointer: FfiCData): number;
}

/** The threads ngx_lua keeps (its coroutine references, in the registry), but the running one. */
function threads(): LuaThread[] {
  const found: LuaThread[] = [];
  const running = coroutine.running();
  const look = (t: LuaTable<AnyNotNil, unknown>, depth: number): void => {
    for (const [, value] of pairs(t)) {
      const kind: string = type(value);
      if (kind === "thread" && value !== running) {
        found.push(value as LuaThread);
      } else if (kind === "table" && depth < 2) {
        look(value as LuaTable<AnyNotNil, unknown>, depth + 1);
      }
    }
  };
  look((debug as unknown as { getregistry(this: void): LuaTable<AnyNotNil, unknown> }).getregistry(), 0);
  return found;
}

/** The map as text: per stream, what holds how many bytes, largest first. */
export function report<T>(requests: LuaTable<number, T>): string {
  collectgarbage("collect");
  collectgarbage("collect");
  const heapKb = collectgarbage("count");
  let streams = 0;
  let blocks = 0;
  let used = 0;
  let large = 0;
  let largeBytes = 0;
  for (const [request] of pairs(requests)) {
    const [b, u, l, lb] = poolOf(request);
    streams += 1;
    blocks += b;
    used += u;
    large += l;
    largeBytes += lb;
  }
  const lines: string[] = [];
  const per = (bytes: number): string => string.format("%8.1f", bytes / math.max(streams, 1));
  const seen = new LuaTable<AnyNotNil, true>();
  const containers = sharedObjects(seen);
  const sums: Sums = new LuaTable();
  // the stream records first, so that what they hold is named by its field whichever thread also reaches it
  for (const [, stream] of pairs(requests)) {
    walk(stream, "stream", seen, sums);
  }
  const all = threads();
  for (const thread of all) {
    walk(thread, "", seen, sums);
  }
  let total = 0;
  const keys: string[] = [];
  for (const [key, bytes] of pairs(sums)) {
    keys.push(key);
    total += bytes;
  }
  table.sort(keys, (a, b) => sums.get(a)! > sums.get(b)!);
  for (const key of keys) {
    lines.push(`${per(sums.get(key)!)}  ${key}`);
  }
  let shared = 0;
  for (const [container, path] of pairs(containers)) {
    const [bytes, arraySlots, hashSlots] = tableSize(container);
    shared += bytes;
    const [, , owner] = string.find(path, "([^.^]+%^[^^]+)$"); // the function and upvalue that hold it
    lines.push(`${per(bytes)}  worker-wide ${(owner as string | undefined) ?? path} (table: ${arraySlots} array, ${hashSlots} hash slots)`);
  }
  lines.push(
    `${per(total + shared)}  in all per stream: ${string.format("%.1f", total / math.max(streams, 1))} reached from the streams and ${all.length} threads, ${string.format("%.1f", shared / math.max(streams, 1))} in worker-wide tables`,
  );
  lines.unshift(
    `${streams} streams; Lua heap after a full collection ${math.floor(heapKb)} KB`,
    `request pool per stream: ${string.format("%.2f", blocks / math.max(streams, 1))} blocks, ${string.format("%.0f", used / math.max(streams, 1))} bytes used in them; ${string.format("%.2f", large / math.max(streams, 1))} large allocations, ${string.format("%.0f", largeBytes / math.max(streams, 1))} bytes`,
    "bytes per stream, by what holds them:",
  );
  return lines.join("\n");
}

/**
 * Writes report() to `<prefix>.<pid>` whenever that file is missing, looking every 2 s: a probe
 * deletes it to ask for a new map, so the walk (which allocates) runs only when asked. Logs why not
 * when LuaJIT's layout is not GC64.
 */
export function start<T>(prefix: string, requests: LuaTable<number, T>): void {
  if (!(ffi as unknown as { abi(this: void, what: string): boolean }).abi("gc64")) {
    ngx.log(ngx.WARN, "PUSHGATE_LUA_HEAP_MAP: needs a GC64 LuaJIT (its object layouts); no map written");
    return;
  }
  pcall(ffi.cdef, "size_t malloc_usable_size(void *ptr);");
  const path = `${prefix}.${ngx.worker.pid()}`;
  ngx.timer.every(2, (premature: boolean) => {
    const [existing] = io.open(path, "r");
    if (existing !== undefined) {
      existing.close();
      return;
    }
    if (premature) {
      return;
    }
    const map = report(requests);
    const [file, err] = io.open(path, "w");
    if (file === undefined) {
      ngx.log(ngx.WARN, "PUSHGATE_LUA_HEAP_MAP: cannot write ", path, ": ", tostring(err));
      return;
    }
    file.write(map, "\n");
    file.close();
  });
}
