// jest runs the JavaScript that tsc builds from test/ (see scripts/build); no ts-jest needed.
module.exports = {
  rootDir: "build",
  testMatch: ["<rootDir>/test/**/*.test.js"],
  setupFiles: ["<rootDir>/src/cli/multi.js"],
  testEnvironment: "node",
  testTimeout: 60000,
  maxWorkers: 1,
};
