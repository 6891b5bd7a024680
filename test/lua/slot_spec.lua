-- The generated Lua of protocol/slot against test/vectors/slot.json (CLUSTER KEYSLOT answers of a
-- real Redis), the vectors test/unit/slot.test.ts runs under Node.
local slot = require("pushgate.protocol.slot")

local vectors = require("vector_file")("slot")

local function bytes_of_hex(hex)
  return (hex:gsub("%x%x", function(pair) return string.char(tonumber(pair, 16)) end))
end

describe("keySlot", function()
  for _, v in ipairs(vectors) do
    it(v.name, function()
      local key = v.keyHex and bytes_of_hex(v.keyHex) or v.key
      assert.are.equal(v.slot, slot.keySlot(key))
    end)
  end

  it("CRC16/XMODEM check value of 123456789 is 0x31c3", function()
    assert.are.equal(0x31c3, slot.crc16("123456789"))
  end)

  it("gives the same slot for every key of one pushgate channel", function()
    local channel = "søren/☃"
    local stream = slot.keySlot("pushgate:{" .. channel .. "}:stream")
    assert.are.equal(stream, slot.keySlot("pushgate:{" .. channel .. "}:meta"))
    assert.are.equal(stream, slot.keySlot(channel))
  end)
end)
