-- The generated WebSocket protocol (dist/protocol/ws.lua, utf8.lua) against the shared vectors
-- that test/unit/ws.test.ts feeds to the TypeScript under Node.
local cjson = require("cjson")
local ws = require("pushgate.protocol.ws")
local utf8 = require("pushgate.protocol.utf8")
local json = require("pushgate.host.json")

local vectors = require("vector_file")

local function unhex(hex)
  return (hex:gsub("%x%x", function(byte) return string.char(tonumber(byte, 16)) end))
end

local v = vectors("ws")

describe("parseControl", function()
  for _, c in ipairs(v.control) do
    it(c.name, function()
      local control, err, ref = ws.parseControl(cjson.decode(c.json), c.maxChannels)
      if c.control then
        assert.is_nil(err)
        assert.same(c.control, control)
      else
        assert.is_nil(control)
        assert.truthy(err:find(c.error, 1, true), err)
        assert.are.equal(c.ref, ref)
      end
    end)
  end
end)

describe("server frames", function()
  for _, f in ipairs(v.frames) do
    it(f.name, function()
      local frame
      if f.kind == "message" then
        frame = ws.messageFrame(f.channel, f.data, f.id, f.event, f.cursor, json.quoteJson)
      elseif f.kind == "notice" then
        frame = ws.noticeFrame(f.code, f.message, json.quoteJson)
      elseif f.kind == "error" then
        frame = ws.errorFrame(f.message, f.ref, json.quoteJson)
      elseif f.kind == "pong" then
        frame = ws.pongFrame(f.ref, json.quoteJson)
      elseif f.kind == "published" then
        frame = ws.publishedFrame(f.channel, f.id, f.subscribers, f.duplicate, f.ref, json.quoteJson)
      elseif f.kind == "acked" then
        frame = ws.ackedFrame(f.channel, f.read, f.ref, json.quoteJson)
      elseif f.kind == "refreshed" then
        frame = ws.refreshedFrame(f.expires, f.ref, json.quoteJson)
      elseif f.kind == "revoked" then
        frame = ws.revokedFrame(f.channel, json.quoteJson)
      else
        frame = ws.channelsFrame(f.kind, f.channels, f.ref, json.quoteJson)
      end
      assert.are.equal(f.frame, frame)
    end)
  end
end)

describe("isUtf8", function()
  for _, u in ipairs(v.utf8) do
    it(u.name, function()
      assert.are.equal(u.valid, utf8.isUtf8(unhex(u.hex)))
    end)
  end
end)
