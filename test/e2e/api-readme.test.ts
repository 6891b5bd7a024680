// README's server API examples, run as written: each `curl ... /api -d '<body>'` line of the
// "Server API" section is sent to a gateway, and each must get a result (not an error).

import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { ROOT } from "../../src/cli/gateway";
import { fetchText, useStack } from "./harness";

const README = readFileSync(resolve(ROOT, "README.md"), "utf8");
const SECTION = README.substring(README.indexOf("## Server API: `POST /api`"), README.indexOf("## Tokens and limits"));
const EXAMPLES = [...SECTION.matchAll(/^curl -s localhost:8080\/api -d '(.*)'$/gm)].map((m) => m[1]);

describe("README's server API examples", () => {
  const stack = useStack();

  test("cover every method", () => {
    const methods = EXAMPLES.map((body) => (JSON.parse(body) as { method: string }).method);
    expect(methods).toEqual([
      "publish",
      "broadcast",
      "publish_many",
      "history",
      "presence",
      "presence_stats",
      "online",
      "channels",
      "unread",
      "info",
      "disconnect",
      "revoke",
      "revoke",
    ]);
  });

  test.each(EXAMPLES.map((body) => [(JSON.parse(body) as { method: string }).method, body]))("%s answers a result", async (_method, body) => {
    const answer = await fetchText(`${stack.base}/api`, { method: "POST", body });
    expect(answer.status).toBe(200);
    const parsed = JSON.parse(answer.body) as { jsonrpc: string; result?: unknown; error?: unknown };
    expect(parsed.error).toBeUndefined();
    expect(parsed.result).toBeDefined();
  });
});
