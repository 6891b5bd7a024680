-- The generated Lua of protocol/cursor and protocol/envelope against the vectors that
-- test/unit/cursor.test.ts runs under Node.
local cursor = require("pushgate.protocol.cursor")
local envelope = require("pushgate.protocol.envelope")

local vectors = require("vector_file")("cursor")

local function sign(n)
  if n < 0 then return -1 elseif n > 0 then return 1 end
  return 0
end

describe("message ids", function()
  for _, id in ipairs(vectors.valid_ids) do
    it("valid " .. id, function() assert.is_true(cursor.isValidId(id)) end)
  end
  for _, id in ipairs(vectors.invalid_ids) do
    it("invalid " .. id, function() assert.is_false(cursor.isValidId(id)) end)
  end
  for _, v in ipairs(vectors.compare) do
    it("compare " .. v[1] .. " " .. v[2], function() assert.are.equal(v[3], sign(cursor.compareIds(v[1], v[2]))) end)
  end
end)

describe("cursors", function()
  for _, v in ipairs(vectors.parse) do
    it(v.name, function()
      local positions, err = cursor.parseCursor(v.raw, v.channels)
      if v.positions then
        assert.same(v.positions, positions)
      else
        assert.is_nil(positions)
        assert.truthy(err:find(v.error, 1, true), err)
      end
    end)
  end
  for _, v in ipairs(vectors.format) do
    it("format " .. v.cursor, function()
      assert.are.equal(v.cursor, cursor.formatCursor(v.channels, v.positions, v.fallback))
    end)
  end
end)

describe("envelopes", function()
  for i, v in ipairs(vectors.envelopes) do
    it("envelope " .. i, function()
      local id, event, data = envelope.openEnvelope(v.payload)
      if v.plain then
        assert.is_nil(id)
      else
        assert.same({ v.id, v.event, v.data }, { id, event, data })
        assert.are.equal(v.payload, envelope.sealEnvelope(v.id, v.event, v.data))
      end
    end)
  end
end)
