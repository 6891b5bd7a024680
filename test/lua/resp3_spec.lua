-- The generated Lua of host/resp3 against RESP3 bytes, over a socket double that hands out the
-- bytes as a cosocket's receive does ("*l": a line without its CRLF; n: n bytes; at the end nil,
-- "closed" and what was partly read). The bytes of the common types are what redis-server 7.0
-- sent (test/e2e/cluster-client.test.ts reads the same from a real server); the attribute (`|`)
-- and the blob error (`!`), which 7.0 sends only to DEBUG PROTOCOL, are the RESP3 spec's examples.
local cjson = require("cjson")
-- outside nginx: the null resty.redis and this reader give is a light userdata, as cjson.null is
_G.ngx = _G.ngx or { null = cjson.null }
local resp3 = require("pushgate.host.resp3")

local function socket(bytes)
  local at = 1
  local sock = {}
  function sock.settimeout() end
  function sock.receive(_, pattern)
    if pattern == "*l" then
      local stop = bytes:find("\r\n", at, true)
      if stop == nil then
        local partial = bytes:sub(at)
        at = #bytes + 1
        return nil, "closed", partial
      end
      local line = bytes:sub(at, stop - 1)
      at = stop + 2
      return line
    end
    if at + pattern - 1 > #bytes then
      local partial = bytes:sub(at)
      at = #bytes + 1
      return nil, "closed", partial
    end
    local data = bytes:sub(at, at + pattern - 1)
    at = at + pattern
    return data
  end
  return sock
end

local function read(bytes)
  return resp3.readFrame(socket(bytes), 100, 100)
end

describe("host/resp3 readFrame", function()
  it("reads the simple types as resty.redis gives them for RESP2", function()
    assert.are.same({ "PONG", nil, false }, { read("+PONG\r\n") })
    assert.are.same({ 42, nil, false }, { read(":42\r\n") })
    assert.are.same({ "v", nil, false }, { read("$1\r\nv\r\n") })
    assert.are.same({ "", nil, false }, { read("$0\r\n\r\n") })
    assert.are.equal(cjson.null, (read("_\r\n")))
    assert.are.equal(cjson.null, (read("$-1\r\n")))
    assert.are.equal(cjson.null, (read("*-1\r\n")))
    assert.are.same({ "1.5", nil, false }, { read(",1.5\r\n") })
    assert.are.same({ "inf", nil, false }, { read(",inf\r\n") })
    assert.are.same({ "123456789012345678901234567890", nil, false }, { read("(123456789012345678901234567890\r\n") })
    assert.are.same({ 1, nil, false }, { read("#t\r\n") })
    assert.are.same({ 0, nil, false }, { read("#f\r\n") })
    assert.are.same({ "hello", nil, false }, { read("=9\r\ntxt:hello\r\n") })
  end)

  it("reads aggregates: a map flat, a set as an array, a nested error as {false, message}", function()
    assert.are.same({ { "f", "v", "g", 2 }, nil, false }, { read("%2\r\n$1\r\nf\r\n$1\r\nv\r\n$1\r\ng\r\n:2\r\n") })
    assert.are.same({ { "a" }, nil, false }, { read("~1\r\n$1\r\na\r\n") })
    assert.are.same({ { 1, { 2, { false, "NESTED no" } } }, nil, false }, { read("*2\r\n:1\r\n*2\r\n:2\r\n-NESTED no\r\n") })
    assert.are.same({ {}, nil, false }, { read("*0\r\n") })
  end)

  it("tells a push from a reply", function()
    local value, err, push = read(">3\r\n$8\r\nsmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n")
    assert.are.same({ "smessage", "ch", "hi" }, value)
    assert.is_nil(err)
    assert.is_true(push)
  end)

  it("gives an error reply and a blob error as false and the message", function()
    assert.are.same({ false, "MOVED 3999 127.0.0.1:6381" }, { read("-MOVED 3999 127.0.0.1:6381\r\n") })
    assert.are.same({ false, "SYNTAX invalid syntax" }, { read("!21\r\nSYNTAX invalid syntax\r\n") })
  end)

  it("drops an attribute, before a reply or inside an aggregate", function()
    local attribute = "|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.1923\r\n$1\r\nb\r\n,0.0012\r\n"
    assert.are.same({ { 2039123, 9543892 }, nil, false }, { read(attribute .. "*2\r\n:2039123\r\n:9543892\r\n") })
    assert.are.same({ { 1, 2 }, nil, false }, { read("*2\r\n:1\r\n" .. attribute .. ":2\r\n") })
  end)

  it("says why when the bytes end or make no sense", function()
    assert.are.same({ nil, "closed" }, { read("$5\r\nab") })
    assert.are.same({ nil, "closed" }, { read("*2\r\n:1\r\n") })
    local value, err = read("?what\r\n")
    assert.is_nil(value)
    assert.is_truthy(err:find("^redis protocol error: unexpected line"))
  end)
end)
