-- Reads test/vectors/<name>.json, the vectors the jest tests feed to the TypeScript under Node,
-- as Lua values for the specs here (a module, not a spec: its name does not end in _spec).
local cjson = require("cjson")

return function(name)
  local file = assert(io.open("test/vectors/" .. name .. ".json", "rb"))
  local text = file:read("*a")
  file:close()
  return cjson.decode(text)
end
