// eslint with typescript-eslint, type-aware: the Lua-bound sources (src/ but src/cli) through
// tstl.json, the Node side (launcher, tests, SDK, benchmark, client library) through tsconfig.json.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["build/**", "dist/**", "client/dist/**", "node_modules/**", "bench/results/**", "demo/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    languageOptions: {
      parserOptions: { project: ["./tsconfig.json", "./tstl.json"], tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // `import x = require("ngx.semaphore")` is how TSTL code imports a Lua module.
      "@typescript-eslint/no-require-imports": ["error", { allowAsImport: true }],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  {
    // Code that runs as Lua: "" and 0 are true there, so conditions say what they test.
    files: ["src/**/*.ts"],
    ignores: ["src/cli/**"],
    rules: {
      "@typescript-eslint/strict-boolean-expressions": [
        "error",
        { allowString: false, allowNumber: false, allowNullableObject: true, allowNullableBoolean: false },
      ],
    },
  },
  {
    // The quick probes under bench/probes are plain CommonJS scripts run by Node.
    files: ["bench/probes/**/*.js"],
    languageOptions: {
      sourceType: "commonjs",
      globals: { require: "readonly", process: "readonly", console: "readonly", setTimeout: "readonly" },
    },
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
);
