// Tokens as identity providers and apps mint them, with the two libraries most of them use:
// `jose` and `jsonwebtoken`, for every algorithm the gateway takes (HS256, RS256, ES256). Each one
// opens a stream; the same token signed with another key, or past its expiry, gets a 401.

import { createPrivateKey } from "node:crypto";
import { join } from "node:path";
import * as jose from "jose";
import jwt from "jsonwebtoken";
import { fetchText, useStack } from "./harness";
import { KEYS_DIR, keyFile } from "../vectors/node-keys";

const SECRET = "library-secret-library-secret-library-secret";
const ISSUER = "https://id.example";
const AUDIENCE = "pushgate";

type Alg = "HS256" | "RS256" | "ES256";

/** The key a token of `alg` is signed with: the shared secret, or a private key of test/vectors/keys. */
function signingKey(alg: Alg, name: string): string | ReturnType<typeof createPrivateKey> {
  if (alg === "HS256") {
    return name === "right" ? SECRET : "another-secret-another-secret-another-secret";
  }
  const file = alg === "RS256" ? (name === "right" ? "rsa-1" : "rsa-other") : name === "right" ? "ec-1" : "ec-other";
  return createPrivateKey(keyFile(`${file}.key.pem`));
}

function kidOf(alg: Alg): string | undefined {
  return alg === "RS256" ? "rsa-1" : alg === "ES256" ? "ec-1" : undefined;
}

async function withJose(alg: Alg, key: string, expiresIn: number): Promise<string> {
  const signer = new jose.SignJWT({ channels: ["lib:*"] })
    .setProtectedHeader(kidOf(alg) === undefined ? { alg } : { alg, kid: kidOf(alg)! })
    .setSubject("alice")
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + expiresIn);
  const signing = signingKey(alg, key);
  return signer.sign(typeof signing === "string" ? new TextEncoder().encode(signing) : signing);
}

function withJsonwebtoken(alg: Alg, key: string, expiresIn: number): string {
  const kid = kidOf(alg);
  const signing = signingKey(alg, key);
  return jwt.sign({ channels: ["lib:*"] }, signing, {
    algorithm: alg,
    subject: "alice",
    issuer: ISSUER,
    audience: AUDIENCE,
    expiresIn,
    ...(kid === undefined ? {} : { keyid: kid }),
  });
}

const MINTERS: Array<[string, (alg: Alg, key: string, expiresIn: number) => Promise<string> | string]> = [
  ["jose", withJose],
  ["jsonwebtoken", withJsonwebtoken],
];

describe.each(MINTERS)("tokens minted by %s", (_library, mint) => {
  const stack = useStack({
    settings: {
      jwtSecret: SECRET,
      jwtPublicKeys: `${join(KEYS_DIR, "rsa-1.pem")},${join(KEYS_DIR, "ec-1.pem")}`,
      jwtIssuer: ISSUER,
      jwtAudience: AUDIENCE,
      jwtLeewaySeconds: "0",
      workers: "1",
    },
  });

  async function status(token: string): Promise<[number, string]> {
    const answer = await fetchText(`${stack.base}/lp?key=lib:1&timeout=0`, { headers: { Authorization: `Bearer ${token}` } });
    return [answer.status, answer.status === 200 ? "" : (JSON.parse(answer.body) as { error: string }).error];
  }

  test.each(["HS256", "RS256", "ES256"] as Alg[])("%s: valid opens, another key or an expired token is refused", async (alg) => {
    expect(await status(await mint(alg, "right", 600))).toEqual([200, ""]);
    expect(await status(await mint(alg, "wrong", 600))).toEqual([401, "token signature does not match"]);
    expect(await status(await mint(alg, "right", -10))).toEqual([401, "token expired"]);
  });
});
