-- The generated Lua of store/cluster/slots and store/cluster/redirect against
-- test/vectors/cluster.json: CLUSTER SLOTS replies and MOVED/ASK/TRYAGAIN errors captured from a
-- real 3+3 cluster (test/vectors/make-cluster-vectors.ts), with owners read from its CLUSTER NODES,
-- and hand-written replies for the shapes a healthy local cluster does not show. cjson decodes
-- JSON null as cjson.null, a light userdata, as resty.redis gives ngx.null for a nil bulk string.
local slots = require("pushgate.store.cluster.slots")
local redirect = require("pushgate.store.cluster.redirect")
local cjson = require("cjson")

local vectors = require("vector_file")("cluster")

local function names(nodes)
  local out = {}
  for i, node in ipairs(nodes) do
    out[i] = node.name
  end
  return out
end

describe("parseClusterSlots", function()
  for _, v in ipairs(vectors.slots) do
    it(v.name, function()
      local map, err = slots.parseClusterSlots(v.reply, v.fallbackHost)
      if v.error then
        assert.is_nil(map)
        assert.is_truthy(err:find(v.error, 1, true), err)
        assert.is_truthy(err:find("^failed to parse cluster slots: "), err)
        return
      end
      assert.is_nil(err)
      local ranges = {}
      for i, range in ipairs(map.ranges) do
        ranges[i] = { first = range.first, last = range.last, primary = range.primary.name, replicas = names(range.replicas) }
      end
      assert.are.same(v.ranges, ranges)
      assert.are.same(v.nodes, names(map.nodes))
      assert.are.equal(v.covered, slots.slotsCovered(map))
      for _, probe in ipairs(v.owners) do
        local slot, expected = probe[1], probe[2]
        local owner = slots.ownerOf(map, slot)
        if expected == cjson.null then
          assert.is_nil(owner, "slot " .. slot)
        else
          assert.are.equal(expected, owner and owner.name, "slot " .. slot)
        end
      end
    end)
  end

  it("gives one node object per address, with its host, port and id", function()
    local map = assert(slots.parseClusterSlots(vectors.slots[1].reply, "127.0.0.1"))
    for i, range in ipairs(map.ranges) do
      assert.are.equal(range.primary, slots.ownerOf(map, range.first))
      assert.are.equal(range.primary, map.nodes[i])
      assert.are.equal("127.0.0.1", range.primary.host)
      assert.are.equal(range.primary.name, range.primary.host .. ":" .. range.primary.port)
      assert.are.equal(40, #range.primary.id)
    end
  end)

  it("finds the owner of every slot of the captured cluster as the ranges say", function()
    local map = assert(slots.parseClusterSlots(vectors.slots[1].reply, "127.0.0.1"))
    local expected = vectors.slots[1].ranges
    local r = 1
    for slot = 0, 16383 do
      if slot > expected[r].last then
        r = r + 1
      end
      assert.are.equal(expected[r].primary, slots.ownerOf(map, slot).name)
    end
  end)
end)

describe("parseRedirect", function()
  for _, v in ipairs(vectors.redirects) do
    it(v.name, function()
      local parsed = redirect.parseRedirect(v.err, v.fallbackHost)
      if v.redirect == cjson.null then
        assert.is_nil(parsed)
      else
        assert.are.same(v.redirect, parsed)
      end
      assert.are.equal(v.tryAgain, redirect.isTryAgain(v.err))
      assert.are.equal(v.clusterDown, redirect.isClusterDown(v.err))
    end)
  end

  it("names a node as slots.lua does, so a redirect target is found in the map", function()
    local map = assert(slots.parseClusterSlots(vectors.slots[1].reply, "127.0.0.1"))
    local moved = redirect.parseRedirect(vectors.redirects[1].err, "127.0.0.1")
    assert.are.equal(moved.name, slots.ownerOf(map, moved.slot).name)
  end)
end)
