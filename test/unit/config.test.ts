// The settings table and its one checker: the rule text each row words, the environment check
// that refuses unknown PUSHGATE_* variables with a suggestion, and the config-file key check.

import { checkEnvironment, isKnownVariable, mergeSources, parseSettings, ruleText, SETTINGS, TABLE } from "../../src/config/schema";

describe("the settings table", () => {
  test("every row has a distinct key and variable, a doc, and a default its own checker accepts", () => {
    expect(new Set(TABLE.map((s) => s.key)).size).toBe(TABLE.length);
    expect(new Set(TABLE.map((s) => s.env)).size).toBe(TABLE.length);
    for (const setting of TABLE) {
      expect(setting.env.startsWith("PUSHGATE_")).toBe(true);
      expect(setting.doc.length).toBeGreaterThan(0);
    }
    const [settings, err] = parseSettings({});
    expect(err).toBeUndefined();
    expect(settings).toBeDefined();
  });

  test("SETTINGS is the table as text, the rule worded from kind and bounds", () => {
    expect(SETTINGS.map((s) => s.key)).toEqual(TABLE.map((s) => s.key));
    const byKey = (key: string) => SETTINGS.find((s) => s.key === key);
    expect(byKey("longPollMaxSeconds")).toEqual({
      key: "longPollMaxSeconds",
      env: "PUSHGATE_LONG_POLL_MAX_SECONDS",
      defaultValue: "120",
      rule: "an integer from 1 to 3600",
      doc: TABLE.find((s) => s.key === "longPollMaxSeconds")?.doc,
    });
    expect(byKey("mode")?.rule).toBe("direct or shared");
    expect(byKey("corsOrigins")?.rule).toBe("empty, * or comma-separated origins (http[s]://host[:port])");
    expect(byKey("jwtPreviousSecret")?.rule).toBe("empty, or at least 32 bytes, different from jwtSecret, only with it");
  });

  test("an error message carries the same rule text as the table", () => {
    for (const setting of TABLE.filter((s) => s.kind === "integer" || s.kind === "choice" || s.kind === "boolean")) {
      const [settings, err] = parseSettings({ [setting.key]: "not-a-valid-value" });
      expect(settings).toBeUndefined();
      expect(err).toBe(`invalid setting ${setting.env} (${setting.key}): expected ${ruleText(setting)}, got "not-a-valid-value"`);
    }
  });
});

describe("unknown settings", () => {
  test.each([
    ["PUSHGATE_WORKER", "PUSHGATE_WORKERS"],
    ["PUSHGATE_REDIS", "PUSHGATE_REDIS_URL"],
    ["PUSHGATE_JWT_SECRETS", "PUSHGATE_JWT_SECRET"],
    ["PUSHGATE_HEARTBEAT", "PUSHGATE_HEARTBEAT_SECONDS"],
    ["PUSHGATE_NGNIX", "PUSHGATE_NGINX"],
  ])("%s is refused, naming %s", (typo, meant) => {
    const [ok, err] = checkEnvironment({ PATH: "/usr/bin", [typo]: "4" });
    expect(ok).toBeUndefined();
    expect(err).toBe(`unknown setting ${typo}: did you mean ${meant}?`);
  });

  test("settings' variables, the launcher's own and the benchmark's pass, and so do other programs' variables", () => {
    const env = {
      PUSHGATE_WORKERS: "2",
      PUSHGATE_CONFIG: "/etc/pushgate.json",
      PUSHGATE_NGINX: "/usr/sbin/nginx",
      PUSHGATE_BENCH_CHECKOUT: "/tmp/x",
      PUSHGATE_BENCH_MEASURED: "1",
      HOME: "/root",
      PUSHGATEWAY_URL: "http://prometheus", // not PUSHGATE_: not ours
    };
    expect(checkEnvironment(env)).toEqual([true]);
    expect(isKnownVariable("PUSHGATE_CONFIG")).toBe(true);
    expect(isKnownVariable("PUSHGATE_WORKER")).toBe(false);
  });

  test("an unknown config-file key names the closest key", () => {
    const [raw, err] = mergeSources({ heartbeat: 5 }, {});
    expect(raw).toBeUndefined();
    expect(err).toBe('unknown setting "heartbeat" in the config file: did you mean "heartbeatSeconds"?');
  });
});
