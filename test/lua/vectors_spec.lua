-- The generated Lua (dist/) against the shared JSON vectors that test/unit/vectors.test.ts feeds
-- to the TypeScript under Node: one source, two runtimes, the same answers.
local cjson = require("cjson")
local channel = require("pushgate.protocol.channel")
local frame = require("pushgate.protocol.frame")
local schema = require("pushgate.config.schema")
local json = require("pushgate.host.json")

local vectors = require("vector_file")

-- Partial deep match: every field of `expected` is in `actual` (like jest's toMatchObject).
local function matches(expected, actual)
  if type(expected) ~= "table" then
    return expected == actual
  end
  if type(actual) ~= "table" then
    return false
  end
  for k, v in pairs(expected) do
    if not matches(v, actual[k]) then
      return false
    end
  end
  return true
end

describe("runtime", function()
  it("is LuaJIT", function()
    assert.is_not_nil(jit, "run busted with luajit")
  end)
end)

describe("parseChannelList", function()
  for _, v in ipairs(vectors("channel")) do
    it(v.name, function()
      local channels, err = channel.parseChannelList(v.raw, v.max)
      if v.channels then
        assert.is_nil(err)
        assert.same(v.channels, channels)
      else
        assert.is_nil(channels)
        assert.truthy(err:find(v.error, 1, true), err)
      end
    end)
  end
end)

describe("line framing", function()
  for i, v in ipairs(vectors("frame")) do
    it(i .. " " .. v.kind .. " " .. v.format, function()
      local line
      if v.kind == "message" then
        line = frame.messageLine(v.format, v.channel, v.data, json.quoteJson, v.id, v.event, v.cursor)
      elseif v.kind == "notice" then
        line = frame.noticeLine(v.format, v.code, v.message, json.quoteJson)
      else
        line = frame.errorLine(v.format, v.message, v.reconnect, json.quoteJson)
      end
      assert.are.equal(v.line, line)
      -- and it decodes back to the same payload
      local decoded = cjson.decode(line)
      if v.kind == "message" then
        assert.are.equal(v.data, decoded.data or decoded[3])
      end
    end)
  end
end)

describe("parseSettings", function()
  for _, v in ipairs(vectors("config")) do
    it(v.name, function()
      local settings, err = schema.parseSettings(v.raw)
      if v.settings then
        assert.is_nil(err)
        assert.is_true(matches(v.settings, settings), cjson.encode(settings))
      else
        assert.is_nil(settings)
        assert.truthy(err:find(v.error, 1, true), err)
      end
    end)
  end
end)

describe("mergeSources", function()
  for _, v in ipairs(vectors("merge")) do
    it(v.name, function()
      local raw, err = schema.mergeSources(v.file, v.env)
      if v.raw then
        assert.same(v.raw, raw)
      else
        assert.truthy(err:find(v.error, 1, true), err)
      end
    end)
  end
end)
