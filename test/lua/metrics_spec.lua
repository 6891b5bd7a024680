-- The generated Prometheus formatting (dist/pushgate/protocol/metrics.lua) against the shared
-- vectors that test/unit/metrics.test.ts feeds to the TypeScript under Node.
local metrics = require("pushgate.protocol.metrics")

local v = require("vector_file")("metrics")

describe("formatValue", function()
  for _, t in ipairs(v.values) do
    it(t.text, function()
      assert.are.equal(t.text, metrics.formatValue(t.value))
    end)
  end
end)

describe("escapeLabel", function()
  for _, t in ipairs(v.labels) do
    it(t.text, function()
      assert.are.equal(t.text, metrics.escapeLabel(t.value))
    end)
  end
end)

describe("latencyBucket", function()
  for _, t in ipairs(v.buckets) do
    it(tostring(t.ms), function()
      assert.are.equal(t.bucket, metrics.latencyBucket(t.ms))
    end)
  end
end)

describe("family", function()
  for _, t in ipairs(v.families) do
    it(t.name, function()
      local out = {}
      metrics.family(out, t.name, t.type, t.help, t.samples)
      assert.are.equal(t.text, table.concat(out))
    end)
  end
end)

describe("histogram", function()
  for i, t in ipairs(v.histograms) do
    it(tostring(i), function()
      local out = {}
      metrics.histogram(out, t.name, t.help, t.counts, t.sum)
      assert.are.equal(t.text, table.concat(out))
    end)
  end
end)
