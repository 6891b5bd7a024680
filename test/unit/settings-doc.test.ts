// README's settings table is generated from src/config/table.ts: this fails when they differ
// (fix with `npm run docs:settings`).

import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { ROOT } from "../../src/cli/gateway";
import { BEGIN, END, settingsMarkdown, withTable } from "../../src/cli/settings-doc";
import { TABLE } from "../../src/config/schema";

const README = readFileSync(resolve(ROOT, "README.md"), "utf8");

describe("README's settings table", () => {
  test("is exactly what the settings table generates", () => {
    const between = README.substring(README.indexOf(BEGIN) + BEGIN.length, README.indexOf(END));
    expect(README.indexOf(BEGIN)).toBeGreaterThan(0);
    expect(between).toBe(`\n${settingsMarkdown()}\n`);
    expect(withTable(README, settingsMarkdown())).toBe(README);
  });

  test("has one row per setting, with its variable, key and default", () => {
    const rows = settingsMarkdown()
      .split("\n")
      .filter((line) => line.startsWith("| `PUSHGATE_"));
    expect(rows).toHaveLength(TABLE.length);
    for (const [i, setting] of TABLE.entries()) {
      expect(rows[i].startsWith(`| \`${setting.env}\` | \`${setting.key}\` | ${setting.default.length > 0 ? `\`${setting.default}\`` : "(none)"} |`)).toBe(
        true,
      );
    }
  });

  test("a README whose table was edited by hand is told apart", () => {
    const edited = README.replace("| `PUSHGATE_WORKERS` | `workers` | `auto` |", "| `PUSHGATE_WORKERS` | `workers` | `4` |");
    expect(edited).not.toBe(README);
    expect(withTable(edited, settingsMarkdown())).toBe(README);
    expect(withTable("no markers here", settingsMarkdown())).toBeUndefined();
  });
});
