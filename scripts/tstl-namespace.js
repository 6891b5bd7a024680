// A typescript-to-lua plugin: every Lua module the project emits is named under one namespace,
// `pushgate.` (src/entry/sub.ts is `pushgate.entry.sub`), so the gateway's modules cannot collide
// with others on a shared lua_package_path. TSTL names a module by its path under rootDir; this
// renames the requires of the project's own modules (and of TSTL's lualib) after it has emitted them.

const NAMESPACE = "pushgate";

function moduleName(outDir, outputPath) {
  const relative = outputPath.slice(outDir.length + 1).replace(/\.lua$/, "");
  return relative.split(/[\\/]/).join(".");
}

module.exports = {
  beforeEmit(program, options, emitHost, result) {
    const outDir = options.outDir;
    const own = new Set(result.map((file) => moduleName(outDir, file.outputPath)));
    const requireCall = /require\("([^"]+)"\)/g;
    for (const file of result) {
      file.code = file.code.replace(requireCall, (call, name) => (own.has(name) ? `require("${NAMESPACE}.${name}")` : call));
    }
  },
};
