-- The generated revocation rules (dist/pushgate/auth/revocations.lua) against the vectors that
-- test/unit/revocations.test.ts feeds to the TypeScript under Node.
local cjson = require("cjson")
local Revocations = require("pushgate.auth.revocations").Revocations
local new = require("pushgate.lualib_bundle").__TS__New
local vectors = require("vector_file")("revocations")

local function value(v)
  if v == cjson.null then
    return nil
  end
  return v
end

describe("revocations", function()
  for _, vector in ipairs(vectors) do
    it(vector.name, function()
      local revocations = new(Revocations)
      for _, step in ipairs(vector.steps) do
        if step[1] == "jti" then
          revocations:revokeId(step[2])
        elseif step[1] == "before" then
          revocations:revokeBefore(step[2], tonumber(step[3]))
        else
          revocations:load(step[2], step[3])
        end
      end
      for _, check in ipairs(vector.checks) do
        assert.are.equal(value(check.refusal), revocations:refusal(check.user, value(check.jti), check.issued))
      end
    end)
  end
end)
