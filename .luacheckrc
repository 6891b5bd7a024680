-- luacheck on the generated Lua (dist/), run by scripts/test. What it guards there is what TSTL
-- cannot see: globals read or set by accident, unreachable code, values never used. The shapes
-- TSTL generates (its ____ temporaries, shadowed `self`, empty branches left by comments) are not
-- ours to restyle, so those warnings are off.
std = "luajit"
-- ngx: its fields (status, header.*, ctx) are set as nginx intends; other globals stay read-only.
globals = { "ngx" }
exclude_files = { "dist/pushgate/lualib_bundle.lua" }
max_line_length = false
unused_args = false
ignore = {
  "211/____.*", -- unused TSTL temporary
  "231/____.*", -- TSTL temporary set, never read
  "4..", -- shadowing and redefinition (TSTL temporaries, `self`)
  "542", -- empty if branch (a TypeScript branch with only a comment)
  "581", -- `not (x ~= y)`: TSTL's translation of `!(a !== b)`
  "614", -- trailing whitespace in a comment: TSTL writes a blank doc-comment line as "-- "
}
