// How README examples are read and their shown output checked (test/e2e/examples.ts): the checks
// readme.test.ts relies on, so that a drifting README fails and a varying id does not.

import { jsExpected, rewrite, shellSteps, shows } from "../e2e/examples";

describe("shown output, checked in shape", () => {
  test("ids and JSON numbers may differ; everything else is literal", () => {
    const shown = ['{"channel":"abc","id":"1795387961436-0","subscribers":1}'];
    expect(shows(shown, '{"channel":"abc","id":"1796041167138-12","subscribers":0}\n')).toBe(true);
    expect(shows(shown, '{"channel":"abd","id":"1796041167138-12","subscribers":0}\n')).toBe(false);
    expect(shows(shown, '{"channel":"abc","id":"1796041167138-12","subscribers":0,"duplicate":true}\n')).toBe(false);
    expect(shows(shown, '{"channel":"abc","id":"x","subscribers":0}\n')).toBe(false);
    expect(shows(['1) "1795387961487-0"', "2) (integer) 1"], '1) "1796041167333-0"\n2) (integer) 0\n')).toBe(true);
    expect(shows(["retry: 2000"], "retry: 3000\n")).toBe(false);
  });

  test("lines are found in order, blank lines included", () => {
    expect(shows(["a", "", "b"], "x\na\n\nb\n")).toBe(true);
    expect(shows(["b", "a"], "a\nb\n")).toBe(false);
    expect(shows(["a", "", "b"], "a\nb\n")).toBe(false);
  });
});

test("a shell block's commands, continuations and the output under each", () => {
  const body = ["curl -N 'x'   # a remark", "# retry: 2000", "#", "# data: hello", "A=1 \\", "  B=2 cmd", "", "other"].join("\n");
  expect(shellSteps(body)).toEqual([
    { code: "curl -N 'x'   # a remark", expected: ["retry: 2000", "", "data: hello"] },
    { code: "A=1 \n  B=2 cmd", expected: [] },
    { code: "other", expected: [] },
  ]);
});

test("a JavaScript block's output: the comments right under a console.log", () => {
  const body = ["x.onmessage = (e) => console.log(e.data);", "// one", "// two", "y(); // not output", "// nor this"].join("\n");
  expect(jsExpected(body)).toEqual(["one", "two"]);
});

test("the rewrites are mechanical", () => {
  const target = { base: "http://127.0.0.1:4000", redisPort: 4001, redisUrl: "redis://127.0.0.1:4001", app: "http://127.0.0.1:4002" };
  expect(rewrite("curl 'http://127.0.0.1:8080/sub' && redis-cli PUBLISH a b", target)).toBe(
    "curl --fail-with-body -sS 'http://127.0.0.1:4000/sub' && redis-cli -p 4001 --no-raw PUBLISH a b",
  );
  expect(rewrite('new WebSocket("ws://127.0.0.1:8080/ws"); createClient({ url: "redis://127.0.0.1:6379" }); fetch("https://app.example/t")', target)).toBe(
    'new WebSocket("ws://127.0.0.1:4000/ws"); createClient({ url: "redis://127.0.0.1:4001" }); fetch("http://127.0.0.1:4002/t")',
  );
});
