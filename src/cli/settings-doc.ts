// README's settings table, generated from the settings table (src/config/table.ts) so the two
// cannot drift. Usage: node build/src/cli/settings-doc.js [--write | --check]
//   (no flag) print the table · --write rewrite it in README.md · --check exit 1 if README differs

import "./multi";
import { readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { OTHER_PREFIXES, OTHER_VARIABLES, SETTINGS } from "../config/schema";

export const BEGIN = "<!-- settings table: generated from src/config/table.ts by `npm run docs:settings`; edit the table, not this -->";
export const END = "<!-- end of settings table -->";

/** Plain text for a table cell: the characters Markdown would read as emphasis, links or cells are escaped. */
function cell(text: string): string {
  return text.replace(/[|*[\]_]/g, (c) => `\\${c}`);
}

/** The Markdown between the markers: one row per setting, then the variables that are not settings. */
export function settingsMarkdown(): string {
  const rows = SETTINGS.map((s) => {
    const shown = s.defaultValue.length > 0 ? `\`${s.defaultValue}\`` : "(none)";
    return `| \`${s.env}\` | \`${s.key}\` | ${shown} | ${cell(s.rule)} | ${s.doc.replace(/\|/g, "\\|")} |`;
  });
  const others = OTHER_VARIABLES.map((v) => `- \`${v.env}\`: ${v.doc}`);
  const prefixes = OTHER_PREFIXES.map((p) => `- \`${p}*\`: the benchmark's own`);
  return [
    "| variable | file key | default | rule | meaning |",
    "|---|---|---|---|---|",
    ...rows,
    "",
    "Also read, and not settings:",
    ...others,
    ...prefixes,
    "",
    "Any other `PUSHGATE_*` variable stops start-up, naming the closest known one.",
  ].join("\n");
}

/** `readme` with the text between the markers replaced by `table`; undefined when a marker is missing. */
export function withTable(readme: string, table: string): string | undefined {
  const begin = readme.indexOf(BEGIN);
  const end = readme.indexOf(END);
  if (begin < 0 || end < begin) {
    return undefined;
  }
  return `${readme.substring(0, begin + BEGIN.length)}\n${table}\n${readme.substring(end)}`;
}

function main(flag: string | undefined): number {
  const path = resolve(__dirname, "../../../README.md");
  const readme = readFileSync(path, "utf8");
  const updated = withTable(readme, settingsMarkdown());
  if (flag === undefined) {
    console.log(settingsMarkdown());
    return 0;
  }
  if (updated === undefined) {
    console.error(`settings-doc: ${path} lacks the markers ${BEGIN} ... ${END}`);
    return 1;
  }
  if (flag === "--check") {
    if (updated !== readme) {
      console.error("settings-doc: README's settings table differs from src/config/table.ts: run npm run docs:settings");
      return 1;
    }
    return 0;
  }
  if (flag === "--write") {
    writeFileSync(path, updated);
    return 0;
  }
  console.error("usage: node build/src/cli/settings-doc.js [--write | --check]");
  return 2;
}

if (require.main === module) {
  process.exit(main(process.argv[2]));
}
