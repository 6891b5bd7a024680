// jest runs the JavaScript that tsc builds from test/ (see scripts/build); no ts-jest needed.
// Two projects: the suite (unit and end to end), and the fault-injection test, which `npm test`
// runs too and `npm run test:faults` runs alone.
const common = {
  rootDir: "build",
  setupFiles: ["<rootDir>/src/cli/multi.js"],
  testEnvironment: "node",
};

module.exports = {
  testTimeout: 60000,
  maxWorkers: 2,
  projects: [
    { ...common, displayName: "suite", testMatch: ["<rootDir>/test/unit/**/*.test.js", "<rootDir>/test/e2e/**/*.test.js"] },
    { ...common, displayName: "faults", testMatch: ["<rootDir>/test/faults/**/*.test.js"] },
  ],
};
