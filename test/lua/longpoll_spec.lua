-- The generated long-poll framing (dist/protocol/longpoll.lua) against the shared vectors that
-- test/unit/longpoll.test.ts feeds to the TypeScript under Node.
local longpoll = require("pushgate.protocol.longpoll")
local json = require("pushgate.host.json")

local v = require("vector_file")("longpoll")

describe("parseTimeout", function()
  for _, t in ipairs(v.timeouts) do
    it(t.name, function()
      local seconds, err = longpoll.parseTimeout(t.raw, t.max)
      if t.seconds then
        assert.is_nil(err)
        assert.are.equal(t.seconds, seconds)
      else
        assert.is_nil(seconds)
        assert.truthy(err:find(t.error, 1, true), err)
      end
    end)
  end
end)

describe("batch body", function()
  for _, b in ipairs(v.batches) do
    it(b.name, function()
      local messages, notices = {}, {}
      for _, m in ipairs(b.messages) do
        messages[#messages + 1] = longpoll.batchMessage(m.channel, m.data, m.id, m.event, json.quoteJson)
      end
      for _, n in ipairs(b.notices) do
        notices[#notices + 1] = longpoll.batchNotice(n.code, n.message, json.quoteJson)
      end
      assert.are.equal(b.body, table.concat(longpoll.batchBody(messages, notices, b.cursor, json.quoteJson)))
    end)
  end
end)
