// LuaJIT's sampling profiler in a worker, for benchmarks (PUSHGATE_LUA_PROFILE, bench/README):
// jit.p samples every millisecond which Lua function and line runs, and writes its report when the
// Lua VM closes (the worker exits on stop or reload). jit.p ships with LuaJIT, outside nginx's
// Lua path: its usual places are added to the path.

const JIT_PATHS = [
  "/usr/share/luajit-2.1.0-beta3/?.lua",
  "/usr/share/luajit-2.1/?.lua",
  "/usr/local/share/luajit-2.1/?.lua",
  "/usr/local/openresty/luajit/share/luajit-2.1/?.lua",
  "/usr/local/openresty/luajit/share/luajit-2.1.0-beta3/?.lua",
];

interface JitProfiler {
  start(this: void, mode: string, output: string): void;
}

/** Starts the profiler, writing to `<prefix>.<pid>`; logs why not when it cannot (no jit.p, a path the worker's user cannot write). */
export function start(prefix: string): void {
  const lib = (_G as unknown as Record<string, { path: string }>)["package"]; // `package` is a reserved word in TypeScript
  lib.path = `${lib.path};${JIT_PATHS.join(";")}`;
  const [found, profiler] = pcall(require, "jit.p");
  if (!found) {
    ngx.log(ngx.WARN, "PUSHGATE_LUA_PROFILE: LuaJIT's jit.p not found: ", tostring(profiler));
    return;
  }
  // F: functions with their module; i1: every millisecond; m0: every entry, however small
  const [started, err] = pcall((profiler as JitProfiler).start, "Fi1m0", `${prefix}.${ngx.worker.pid()}`);
  if (!started) {
    ngx.log(ngx.WARN, "PUSHGATE_LUA_PROFILE: the profiler did not start (can the worker's user write there?): ", tostring(err));
  }
}
