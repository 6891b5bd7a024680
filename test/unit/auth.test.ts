// The pure auth modules (src/auth/) under Node against the shared vectors of test/vectors/jwt.json;
// test/lua/auth_spec.lua runs the same vectors against the generated Lua with OpenSSL and cjson.

import { createHmac, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { decodeBase64Url, encodeBase64Url } from "../../src/auth/base64url";
import { constantTimeEquals } from "../../src/auth/compare";
import { firstRefused, grantAllows, isValidPattern } from "../../src/auth/grant";
import { ecdsaSignatureToDer, p256PublicKeyInfo, rsaPublicKeyInfo } from "../../src/auth/der";
import { buildKeyRing, keyFileItem } from "../../src/auth/jwk";
import { splitToken, TokenVerifier, verifyToken } from "../../src/auth/jwt";
import { decodeJson, hmacSha256 } from "../../sdk/host";
import { JwtVectors, jwtVectorsText, VECTORS_PATH } from "../vectors/make-jwt-vectors";
import { loadDerKey, loadPemKey, verifySignature } from "../vectors/node-keys";

const fileText = readFileSync(VECTORS_PATH, "utf8");
const vectors = JSON.parse(fileText) as JwtVectors;

/** Hex as a byte string (one character per byte, see src/auth/base64url.ts). */
const bytesOfHex = (hex: string): string => Buffer.from(hex, "hex").toString("latin1");
const hexOfBytes = (bytes: string): string => Buffer.from(bytes, "latin1").toString("hex");

describe("the vector file", () => {
  test("is what test/vectors/make-jwt-vectors.ts generates", () => {
    expect(fileText).toBe(jwtVectorsText());
  });
});

describe("base64url", () => {
  test.each(vectors.base64url.map((v) => [v.name, v]))("%s", (_name, v) => {
    const [bytes, err] = decodeBase64Url(v.text);
    if (v.hex !== undefined) {
      expect(err).toBeUndefined();
      expect(hexOfBytes(bytes!)).toBe(v.hex);
      expect(encodeBase64Url(bytesOfHex(v.hex))).toBe(v.text);
    } else {
      expect(bytes).toBeUndefined();
      expect(err).toBe(v.error);
    }
  });

  test("agrees with Buffer on 2000 random byte strings", () => {
    for (let i = 0; i < 2000; i++) {
      const buffer = randomBytes(i % 67);
      const text = encodeBase64Url(buffer.toString("latin1"));
      expect(text).toBe(buffer.toString("base64url"));
      const [bytes] = decodeBase64Url(text);
      expect(bytes).toBe(buffer.toString("latin1"));
    }
  });

  test("decodes random text without raising, and whatever it accepts encodes back to the same text", () => {
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/ .é\n";
    for (let i = 0; i < 2000; i++) {
      let text = "";
      for (let j = 0; j < i % 13; j++) {
        text += alphabet[Math.floor(Math.random() * alphabet.length)];
      }
      const [bytes, err] = decodeBase64Url(text);
      if (bytes !== undefined) {
        expect(encodeBase64Url(bytes)).toBe(text);
      } else {
        expect(typeof err).toBe("string");
      }
    }
  });

  test("encoding refuses a character that is not a byte", () => {
    expect(() => encodeBase64Url("☃")).toThrow("encodeBase64Url takes a byte string");
  });
});

describe("isValidPattern", () => {
  test.each(vectors.patterns.map((v) => [JSON.stringify(v.pattern), v]))("%s", (_name, v) => {
    expect(isValidPattern(v.pattern)).toBe(v.valid);
  });
});

describe("grants", () => {
  test.each(vectors.grants.map((v) => [v.name, v]))("%s", (_name, v) => {
    expect(firstRefused(v.patterns, v.channels)).toBe(v.refused);
    // every channel before the first refused one is allowed
    for (const channel of v.channels) {
      expect(grantAllows(v.patterns, channel)).toBe(channel !== v.refused);
      if (channel === v.refused) {
        break;
      }
    }
  });
});

describe("HMAC-SHA256 known answers", () => {
  test.each(vectors.hmac.map((v) => [v.name, v]))("%s: node:crypto gives it", (_name, v) => {
    const digest = createHmac("sha256", Buffer.from(v.keyHex, "hex")).update(Buffer.from(v.dataHex, "hex")).digest("hex");
    expect(digest).toBe(v.digestHex);
  });

  // sdk/host.ts takes the key as text (hashed as UTF-8), so only keys of ASCII bytes go through it.
  test.each(vectors.hmac.filter((v) => Buffer.from(v.keyHex, "hex").every((b) => b < 0x80)).map((v) => [v.name, v]))("%s: sdk/host.ts gives it", (_name, v) => {
    const digest = hmacSha256(Buffer.from(v.keyHex, "hex").toString("latin1"), bytesOfHex(v.dataHex));
    expect(hexOfBytes(digest)).toBe(v.digestHex);
  });
});

describe("constantTimeEquals", () => {
  test("equal, different, and of different lengths", () => {
    expect(constantTimeEquals("", "")).toBe(true);
    expect(constantTimeEquals("abc", "abc")).toBe(true);
    expect(constantTimeEquals("abc", "abd")).toBe(false);
    expect(constantTimeEquals("abc", "ab")).toBe(false);
    expect(constantTimeEquals("\x00", "\x80")).toBe(false);
  });
});

describe("splitToken", () => {
  test("gives the parts and the signing input", () => {
    const [parts] = splitToken("aa.bb.cc", 100);
    expect(parts).toEqual({ header: "aa", payload: "bb", signature: "cc", signingInput: "aa.bb" });
  });
});

describe("verifyToken", () => {
  const { now, leewaySeconds, maxTokenBytes, secrets, cases } = vectors.tokens;
  test.each(cases.map((v) => [v.name, v]))("%s", (_name, v) => {
    const verifier: TokenVerifier = { secrets: v.secrets ?? secrets, leewaySeconds, maxTokenBytes, hmacSha256, decodeJson };
    const [claims, err] = verifyToken(v.token, verifier, now);
    if (v.claims !== undefined) {
      expect(err).toBeUndefined();
      expect(claims).toEqual(v.claims);
    } else {
      expect(claims).toBeUndefined();
      expect(err).toBe(v.error);
    }
  });
});

describe("DER for OpenSSL", () => {
  test.each(vectors.der.map((v) => [v.name, v]))("%s", (_name, v) => {
    if (v.jwk !== undefined) {
      const field = (name: string): string => bytesOfHex(Buffer.from(v.jwk![name], "base64url").toString("hex"));
      const der = v.jwk.kty === "RSA" ? rsaPublicKeyInfo(field("n"), field("e")) : p256PublicKeyInfo(field("x"), field("y"));
      expect(hexOfBytes(der)).toBe(v.derHex);
    } else {
      const der = ecdsaSignatureToDer(bytesOfHex(v.rawHex!));
      expect(der === undefined ? undefined : hexOfBytes(der)).toBe(v.derHex);
    }
  });
});

describe("key rings from PEM and JWKS", () => {
  test.each(vectors.keyrings.map((v) => [v.name, v]))("%s", (_name, v) => {
    const [ring, err] = buildKeyRing({ pems: v.pems, jwks: v.jwks, loadPem: loadPemKey, loadDer: loadDerKey, decodeJson });
    if (v.kids !== undefined) {
      expect(err).toBeUndefined();
      const kids: string[] = [];
      ring!.forEach((key, kid) => kids.push(`${kid}:${key.alg}`));
      expect(kids.sort()).toEqual(v.kids);
    } else {
      expect(ring).toBeUndefined();
      expect(err).toBe(v.error);
    }
  });

  test("a PUSHGATE_JWT_PUBLIC_KEYS item names its kid, or its file does", () => {
    expect(keyFileItem("main=/etc/keys/a.pem")).toEqual({ kid: "main", path: "/etc/keys/a.pem" });
    expect(keyFileItem("/etc/keys/2024-01.pub.pem")).toEqual({ kid: "2024-01", path: "/etc/keys/2024-01.pub.pem" });
    expect(keyFileItem("keys/k1")).toEqual({ kid: "k1", path: "keys/k1" });
  });
});

describe("verifyToken with RS256 and ES256 keys, issuer and audience", () => {
  const signed = vectors.signed;
  const [keys] = buildKeyRing({ pems: signed.pems, jwks: signed.jwks, loadPem: loadPemKey, loadDer: loadDerKey, decodeJson });
  const verifier: TokenVerifier = {
    secrets: signed.secrets,
    leewaySeconds: signed.leewaySeconds,
    maxTokenBytes: signed.maxTokenBytes,
    hmacSha256,
    decodeJson,
    keys,
    verifySignature,
    issuer: signed.issuer,
    audience: signed.audience,
  };
  test.each(signed.cases.map((v) => [v.name, v]))("%s", (_name, v) => {
    const [claims, err] = verifyToken(v.token, verifier, signed.now);
    if (v.claims !== undefined) {
      expect(err).toBeUndefined();
      expect(claims).toEqual(v.claims);
    } else {
      expect(claims).toBeUndefined();
      expect(err).toBe(v.error);
    }
  });

  test("public keys alone, without a secret: HS256 is refused, RS256 accepted", () => {
    const keysOnly: TokenVerifier = { ...verifier, secrets: [] };
    const hs = signed.cases.find((v) => v.name === "HS256 beside public keys, iss and aud right")!;
    expect(verifyToken(hs.token, keysOnly, signed.now)[1]).toBe("token alg HS256 is not accepted: no secret is configured");
    const rs = signed.cases.find((v) => v.name === "RS256 pem: valid")!;
    expect(verifyToken(rs.token, keysOnly, signed.now)[1]).toBeUndefined();
  });
});
