-- The generated SSE framing (dist/protocol/sse.lua) against the shared vectors that
-- test/unit/sse.test.ts feeds to the TypeScript under Node: the same bytes from both runtimes.
local cjson = require("cjson")
local sse = require("pushgate.protocol.sse")
local json = require("pushgate.host.json")

local vectors = require("vector_file")

local function frame_of(v)
  local id = v.id ~= cjson.null and v.id or nil
  if v.kind == "message" then
    return table.concat(sse.messageEvent(v.data, id, v.event))
  elseif v.kind == "json" then
    return table.concat(sse.jsonEvent(v.line, id))
  elseif v.kind == "notice" then
    return table.concat(sse.noticeEvent(v.code, v.message, json.quoteJson))
  elseif v.kind == "error" then
    return table.concat(sse.errorEvent(v.message, v.reconnect, json.quoteJson))
  elseif v.kind == "retry" then
    return sse.retryField(v.retryMs)
  else
    return sse.HEARTBEAT_EVENT
  end
end

describe("SSE framing", function()
  for _, v in ipairs(vectors("sse")) do
    it(v.name, function()
      assert.are.equal(v.frame, frame_of(v))
    end)
  end
end)
