-- The generated Lua of src/auth/ with the nginx host's HMAC (OpenSSL through the FFI) and JSON
-- decoder (cjson), against the vectors of test/vectors/jwt.json that test/unit/auth.test.ts runs
-- under Node: one source, two runtimes, the same verdicts.
local cjson = require("cjson")
local base64url = require("pushgate.auth.base64url")
local compare = require("pushgate.auth.compare")
local grant = require("pushgate.auth.grant")
local jwt = require("pushgate.auth.jwt")
local crypto = require("pushgate.host.crypto")

local vectors = require("vector_file")("jwt")

local function bytes_of_hex(hex)
  return (hex:gsub("%x%x", function(pair) return string.char(tonumber(pair, 16)) end))
end

local function hex_of_bytes(bytes)
  return (bytes:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

describe("host.crypto", function()
  it("finds libcrypto", function()
    local ok, err = crypto.loadCrypto()
    assert.is_true(ok, err)
  end)

  it("decodes JSON strictly, leaving the shared cjson module as it was", function()
    assert.is_nil((crypto.decodeJson("NaN")))
    assert.is_nil((crypto.decodeJson("0x10")))
    assert.are.equal(cjson.null, (crypto.decodeJson("null")))
    assert.same({ a = { 1, 2 } }, (crypto.decodeJson('{"a":[1,2]}')))
    local value, err = crypto.decodeJson("{")
    assert.is_nil(value)
    assert.truthy(err:find("failed to decode json", 1, true))
    local nan = cjson.decode("NaN") -- the shared module still takes it
    assert.is_true(nan ~= nan)
  end)
end)

describe("base64url", function()
  for _, v in ipairs(vectors.base64url) do
    it(v.name, function()
      local bytes, err = base64url.decodeBase64Url(v.text)
      if v.hex then
        assert.is_nil(err)
        assert.are.equal(v.hex, hex_of_bytes(bytes))
        assert.are.equal(v.text, base64url.encodeBase64Url(bytes_of_hex(v.hex)))
      else
        assert.is_nil(bytes)
        assert.are.equal(v.error, err)
      end
    end)
  end

  it("round-trips 2000 random byte strings", function()
    math.randomseed(42)
    for i = 1, 2000 do
      local chars = {}
      for j = 1, i % 67 do
        chars[j] = string.char(math.random(0, 255))
      end
      local bytes = table.concat(chars)
      local text = base64url.encodeBase64Url(bytes)
      assert.are.equal(math.ceil(#bytes * 4 / 3), #text)
      assert.are.equal(bytes, (base64url.decodeBase64Url(text)))
    end
  end)

  it("decodes random text without raising, and whatever it accepts encodes back to the same text", function()
    math.randomseed(7)
    local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/ .\n\195\169"
    for i = 1, 2000 do
      local chars = {}
      for j = 1, i % 13 do
        local k = math.random(1, #alphabet)
        chars[j] = alphabet:sub(k, k)
      end
      local text = table.concat(chars)
      local bytes, err = base64url.decodeBase64Url(text)
      if bytes then
        assert.are.equal(text, base64url.encodeBase64Url(bytes))
      else
        assert.are.equal("string", type(err))
      end
    end
  end)
end)

describe("isValidPattern", function()
  for _, v in ipairs(vectors.patterns) do
    it(string.format("%q", v.pattern), function()
      assert.are.equal(v.valid, grant.isValidPattern(v.pattern))
    end)
  end
end)

describe("grants", function()
  for _, v in ipairs(vectors.grants) do
    it(v.name, function()
      assert.are.equal(v.refused, grant.firstRefused(v.patterns, v.channels))
      -- every channel before the first refused one is allowed
      for _, channel in ipairs(v.channels) do
        assert.are.equal(channel ~= v.refused, grant.grantAllows(v.patterns, channel))
        if channel == v.refused then
          break
        end
      end
    end)
  end
end)

describe("HMAC-SHA256 known answers (OpenSSL through the FFI)", function()
  for _, v in ipairs(vectors.hmac) do
    it(v.name, function()
      local digest = crypto.hmacSha256(bytes_of_hex(v.keyHex), bytes_of_hex(v.dataHex))
      assert.are.equal(v.digestHex, hex_of_bytes(digest))
    end)
  end
end)

describe("constantTimeEquals", function()
  it("equal, different, and of different lengths", function()
    assert.is_true(compare.constantTimeEquals("", ""))
    assert.is_true(compare.constantTimeEquals("abc", "abc"))
    assert.is_false(compare.constantTimeEquals("abc", "abd"))
    assert.is_false(compare.constantTimeEquals("abc", "ab"))
    assert.is_false(compare.constantTimeEquals("\0", "\128"))
  end)
end)

describe("verifyToken", function()
  local tokens = vectors.tokens
  for _, v in ipairs(tokens.cases) do
    it(v.name, function()
      local verifier = {
        secrets = v.secrets or tokens.secrets,
        leewaySeconds = tokens.leewaySeconds,
        maxTokenBytes = tokens.maxTokenBytes,
        hmacSha256 = crypto.hmacSha256,
        decodeJson = crypto.decodeJson,
      }
      local claims, err = jwt.verifyToken(v.token, verifier, tokens.now)
      if v.claims then
        assert.is_nil(err)
        assert.same(v.claims, claims)
      else
        assert.is_nil(claims)
        assert.are.equal(v.error, err)
      end
    end)
  end
end)

local der = require("pushgate.auth.der")
local jwk = require("pushgate.auth.jwk")

describe("DER for OpenSSL", function()
  for _, v in ipairs(vectors.der) do
    it(v.name, function()
      if v.jwk then
        local function field(name)
          return (base64url.decodeBase64Url(v.jwk[name]))
        end
        local bytes
        if v.jwk.kty == "RSA" then
          bytes = der.rsaPublicKeyInfo(field("n"), field("e"))
        else
          bytes = der.p256PublicKeyInfo(field("x"), field("y"))
        end
        assert.are.equal(v.derHex, hex_of_bytes(bytes))
      else
        local bytes = der.ecdsaSignatureToDer(bytes_of_hex(v.rawHex))
        assert.are.equal(v.derHex, bytes and hex_of_bytes(bytes))
      end
    end)
  end
end)

local function key_ring(pems, jwks)
  return jwk.buildKeyRing({
    pems = pems,
    jwks = jwks,
    loadPem = crypto.loadPemKey,
    loadDer = crypto.loadDerKey,
    decodeJson = crypto.decodeJson,
  })
end

describe("key rings from PEM and JWKS (OpenSSL through the FFI)", function()
  for _, v in ipairs(vectors.keyrings) do
    it(v.name, function()
      local ring, err = key_ring(v.pems, v.jwks)
      if v.kids then
        assert.is_nil(err)
        local kids = {}
        ring:forEach(function(_, key, kid)
          kids[#kids + 1] = kid .. ":" .. key.alg
        end)
        table.sort(kids)
        assert.same(v.kids, kids)
      else
        assert.is_nil(ring)
        assert.are.equal(v.error, err)
      end
    end)
  end
end)

describe("verifyToken with RS256 and ES256 keys, issuer and audience (OpenSSL through the FFI)", function()
  local signed = vectors.signed
  local keys = assert(key_ring(signed.pems, signed.jwks))
  local verifier = {
    secrets = signed.secrets,
    leewaySeconds = signed.leewaySeconds,
    maxTokenBytes = signed.maxTokenBytes,
    hmacSha256 = crypto.hmacSha256,
    decodeJson = crypto.decodeJson,
    keys = keys,
    verifySignature = crypto.verifySignature,
    issuer = signed.issuer,
    audience = signed.audience,
  }
  for _, v in ipairs(signed.cases) do
    it(v.name, function()
      local claims, err = jwt.verifyToken(v.token, verifier, signed.now)
      if v.claims then
        assert.is_nil(err)
        assert.same(v.claims, claims)
      else
        assert.is_nil(claims)
        assert.are.equal(v.error, err)
      end
    end)
  end
end)
