// README examples as tests: the fenced blocks of README.md and sdk/README.md, each named by the
// comment line above it (`<!-- example: NAME -->`, or `<!-- not run: REASON -->`), run as
// printed against a test gateway. The only changes, mechanical and the same everywhere:
//   - http://127.0.0.1:8080 and ws://127.0.0.1:8080 become the test gateway's address,
//     redis://127.0.0.1:6379 its Redis, and `redis-cli` gets `-p <port> --no-raw` (terminal-style
//     output, as a reader sees it); https://app.example, the app that hands out tokens, is a
//     server the test runs;
//   - `curl` gets `--fail-with-body -sS`, so an HTTP error fails the example;
//   - a stream that never ends by itself (`curl -N`, a long-poll, a page's EventSource) is
//     stopped once it printed what the block shows, or after a short while when it shows nothing.
// What a block shows as output (shell: the `# ` lines under a command; JavaScript: the comment
// line under a `console.log`) must appear in that order in what it printed, checked in shape:
// message ids (<ms>-<seq>) and JSON numbers may differ, everything else is literal.

import { ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { sleep } from "./harness";

/** The checkout: examples run from here (`node file.mjs` in the checkout imports ./build/sdk/…). */
export const ROOT = resolve(__dirname, "../../..");

export interface Block {
  file: string;
  line: number;
  name: string | undefined;
  notRun: string | undefined;
  body: string;
}

/** Every fenced block of `file` (relative to the checkout), with the marker above it. */
export function blocksOf(file: string): Block[] {
  const lines = readFileSync(join(ROOT, file), "utf8").split("\n");
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i].startsWith("```")) {
      continue;
    }
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !lines[i].startsWith("```"); i++) {
      body.push(lines[i]);
    }
    let above = start - 1; // the marker is the nearest line above that is not blank
    while (above >= 0 && lines[above].trim() === "") {
      above--;
    }
    const marker = /^<!-- (example|not run): (.+?) -->$/.exec(above >= 0 ? lines[above] : "");
    blocks.push({
      file,
      line: start + 1,
      name: marker?.[1] === "example" ? marker[2] : undefined,
      notRun: marker?.[1] === "not run" ? marker[2] : undefined,
      body: body.join("\n"),
    });
  }
  return blocks;
}

export interface Target {
  base: string;
  redisPort: number;
  redisUrl: string;
  /** Where the app that hands out tokens answers (README's https://app.example). */
  app?: string;
}

/** The mechanical changes listed at the top of this file. */
export function rewrite(text: string, target: Target): string {
  return text
    .replaceAll("http://127.0.0.1:8080", target.base)
    .replaceAll("ws://127.0.0.1:8080", target.base.replace(/^http/, "ws"))
    .replaceAll("redis://127.0.0.1:6379", target.redisUrl)
    .replace(/\bredis-cli\b/g, `redis-cli -p ${target.redisPort} --no-raw`)
    .replace(/\bcurl /g, "curl --fail-with-body -sS ")
    .replaceAll("https://app.example", target.app ?? "https://app.example");
}

/** A shell command of a block and the output lines shown under it. */
export interface Step {
  code: string;
  expected: string[];
}

/** A shell block's commands (a trailing `\` continues a line) and the `# ` lines under each. */
export function shellSteps(body: string): Step[] {
  const steps: Step[] = [];
  let pending = "";
  for (const line of body.split("\n")) {
    if (pending === "" && line.startsWith("#") && steps.length > 0) {
      steps[steps.length - 1].expected.push(line.replace(/^# ?/, ""));
    } else if (line.endsWith("\\")) {
      pending += `${line.slice(0, -1)}\n`;
    } else if (pending !== "" || line.trim() !== "") {
      steps.push({ code: pending + line, expected: [] });
      pending = "";
    }
  }
  return steps;
}

/** A JavaScript block's shown output: the whole-line comments right under a `console.log`. */
export function jsExpected(body: string): string[] {
  const expected: string[] = [];
  let underLog = false;
  for (const line of body.split("\n")) {
    const comment = /^\s*\/\/ (.*)$/.exec(line);
    if (comment !== null && underLog) {
      expected.push(comment[1]);
    } else {
      underLog = line.includes("console.log");
    }
  }
  return expected;
}

/** A shown output line as a pattern: ids and JSON numbers vary, the rest is literal. */
export function shapeOf(line: string): RegExp {
  const variable = /\d{10,}-\d+|(?<=":)\d+(?=[,}\]])|(?<=\(integer\) )\d+/g;
  let pattern = "";
  let from = 0;
  for (const found of line.matchAll(variable)) {
    pattern += escape(line.slice(from, found.index)) + (found[0].includes("-") ? "\\d+-\\d+" : "\\d+");
    from = found.index + found[0].length;
  }
  return new RegExp(`^${pattern}${escape(line.slice(from))}$`);
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Whether every shown line matches a printed line, in order. */
export function shows(expected: string[], printed: string): boolean {
  const lines = printed.split("\n").map((line) => line.replace(/\r$/, ""));
  let at = 0;
  for (const line of expected) {
    const shape = shapeOf(line);
    while (at < lines.length && !shape.test(lines[at])) {
      at++;
    }
    if (at === lines.length) {
      return false;
    }
    at++;
  }
  return true;
}

export interface Running {
  process: ChildProcess;
  output(): string;
  /** The exit code, once it exited. */
  code: number | null | undefined;
}

export function launch(command: string, args: string[], env: Record<string, string>, input?: string): Running {
  const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "pipe"], detached: true });
  const running: Running = { process: child, output: () => out + err, code: undefined };
  let out = "";
  let err = "";
  child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
  child.on("exit", (code) => (running.code = code));
  child.stdin.on("error", () => undefined); // EPIPE: a command that exits without reading its input (curl) is no failure
  child.stdin.end(input ?? "");
  return running;
}

/** Stops what launch() started (its process group: bash and the curl it runs). */
export function stop(running: Running): void {
  if (running.code === undefined && running.process.pid !== undefined) {
    try {
      process.kill(-running.process.pid, "SIGTERM");
    } catch {
      // already gone
    }
  }
}

export interface WaitOptions {
  expected: string[];
  /** Called every 250 ms while waiting (e.g. to publish until a stream shows it). */
  poke?: () => Promise<void>;
  /** How long to give it; a stream showing nothing is stopped after this. */
  timeoutMs: number;
}

/** Waits until it exited or printed what is expected, poking meanwhile; then stops it. */
export async function settle(running: Running, options: WaitOptions): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  let poked = 0;
  while (running.code === undefined && Date.now() < deadline) {
    if (options.expected.length > 0 && shows(options.expected, running.output())) {
      break;
    }
    if (options.poke !== undefined && Date.now() >= poked + 250) {
      poked = Date.now();
      await options.poke();
    }
    await sleep(25);
  }
  await sleep(50); // the last bytes of an exiting process
}

/** Whether a shell command is a stream that only ends when stopped. */
export function isStream(code: string): boolean {
  return /curl\b.*\s-N\b/.test(code) || code.includes("/lp?");
}

/** Runs a shell step: fails unless it exits 0 (or is a stream still open) and shows its output. */
export async function runStep(step: Step, target: Target, env: Record<string, string>, poke?: () => Promise<void>): Promise<string> {
  const running = launch("bash", ["-c", rewrite(step.code, target)], env);
  const stream = isStream(step.code);
  await settle(running, { expected: step.expected, poke, timeoutMs: stream && step.expected.length === 0 ? 1000 : 10000 });
  const open = running.code === undefined;
  stop(running);
  const what = `${step.code}\n--- printed:\n${running.output()}`;
  if (open && !stream) {
    throw new Error(`did not end within 10 s: ${what}`);
  }
  if (!open && running.code !== 0) {
    throw new Error(`exited with ${running.code}: ${what}`);
  }
  if (!shows(step.expected, running.output())) {
    throw new Error(`does not show ${JSON.stringify(step.expected)}: ${what}`);
  }
  if (process.env.PUSHGATE_EXAMPLES_PRINT !== undefined) {
    console.log(what);
  }
  return running.output();
}

/** Runs a JavaScript block as an ES module in Node from the checkout (what `node file.mjs` does there). */
export async function runNode(
  code: string,
  target: Target,
  env: Record<string, string>,
  poke?: () => Promise<void>,
  expected = jsExpected(code),
): Promise<string> {
  const running = launch("node", ["--input-type=module"], env, rewrite(code, target));
  await settle(running, { expected, poke, timeoutMs: 10000 });
  const open = running.code === undefined;
  stop(running);
  const what = `${code}\n--- printed:\n${running.output()}`;
  if (!open && running.code !== 0) {
    throw new Error(`exited with ${running.code}: ${what}`);
  }
  if (!shows(expected, running.output())) {
    throw new Error(`does not show ${JSON.stringify(expected)}: ${what}`);
  }
  if (process.env.PUSHGATE_EXAMPLES_PRINT !== undefined) {
    console.log(what);
  }
  return running.output();
}
