// README's benchmark tables are the run's own: written by `npm run bench -- … --readme` from the
// saved run the tables link to, so they cannot drift from it by a hand edit.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { README_END, README_START, readmeBlock, RunResults, withReadmeBlock } from "../../bench/lib/report";

const ROOT = join(__dirname, "../../.."); // build/test/unit → the checkout

test("README's benchmark tables are exactly what the linked run renders", () => {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const start = readme.indexOf(README_START);
  const end = readme.indexOf(README_END);
  expect(start).toBeGreaterThan(0);
  expect(end).toBeGreaterThan(start);
  const block = readme.substring(start + README_START.length, end).trim();
  const report = /\((bench\/results\/[^)]+\.md)\)/.exec(block)?.[1];
  expect(report).toBeDefined();
  const results = JSON.parse(readFileSync(join(ROOT, report!.replace(/\.md$/, ".json")), "utf8")) as RunResults;
  expect(block).toBe(readmeBlock(results, report!));
  expect(block).toContain("Pushgate shared · FCALL (durable)"); // durable and plain publishing, each labelled
  expect(block).toContain("Pushgate shared · PUBLISH");
});

test("--readme refuses a README without the markers, and replaces only what is between them", () => {
  expect(() => withReadmeBlock("# no tables here\n", "x")).toThrow(/no benchmark tables/);
  const before = `intro\n${README_START}\nold table\n${README_END}\nafter\n`;
  expect(withReadmeBlock(before, "new table")).toBe(`intro\n${README_START}\nnew table\n${README_END}\nafter\n`);
});
