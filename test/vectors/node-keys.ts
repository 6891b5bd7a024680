// Node's half of RS256/ES256, the counterpart of src/host/crypto.ts in nginx, for the tests:
// loading public keys with node:crypto, verifying signatures, and minting tokens with Node's own
// signer (crypto.sign; ES256 with dsaEncoding "ieee-p1363", the raw r || s JOSE uses).

import "../../src/cli/multi";
import { createPrivateKey, createPublicKey, KeyObject, sign, verify } from "node:crypto";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { PublicKey, SignatureAlg } from "../../src/auth/jwt";

export const KEYS_DIR = resolve(__dirname, "../../../test/vectors/keys");

/** The text of test/vectors/keys/<name>. */
export function keyFile(name: string): string {
  return readFileSync(resolve(KEYS_DIR, name), "utf8");
}

function algorithmOf(key: KeyObject): LuaMultiReturn<[KeyObject, SignatureAlg] | [undefined, string]> {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === "rsa") {
    const bits = details.modulusLength ?? 0;
    if (bits < 2048) {
      return $multi(undefined, `an RSA key of ${bits} bits is too small: at least 2048`);
    }
    return $multi(key, "RS256" as SignatureAlg);
  }
  if (key.asymmetricKeyType === "ec") {
    if (details.namedCurve === "prime256v1") {
      return $multi(key, "ES256" as SignatureAlg);
    }
    return $multi(undefined, "an EC key must be on the P-256 curve (ES256)");
  }
  return $multi(undefined, "the key is neither RSA nor EC");
}

/** As crypto.ts's loadPemKey: a PEM SubjectPublicKeyInfo only (a private key is refused). */
export function loadPemKey(this: void, pem: string): LuaMultiReturn<[unknown, SignatureAlg] | [undefined, string]> {
  if (!pem.includes("-----BEGIN PUBLIC KEY-----")) {
    return $multi(undefined, "not a PEM public key (-----BEGIN PUBLIC KEY-----)");
  }
  try {
    return algorithmOf(createPublicKey(pem));
  } catch {
    return $multi(undefined, "not a PEM public key (-----BEGIN PUBLIC KEY-----)");
  }
}

export function loadDerKey(this: void, der: string): LuaMultiReturn<[unknown] | [undefined, string]> {
  try {
    const [key, err] = algorithmOf(createPublicKey({ key: Buffer.from(der, "latin1"), format: "der", type: "spki" }));
    return key === undefined ? $multi(undefined, err) : $multi(key);
  } catch {
    return $multi(undefined, "openssl does not take the key");
  }
}

export function verifySignature(this: void, key: PublicKey, data: string, signature: string): boolean {
  return verify("sha256", Buffer.from(data, "latin1"), key.handle as KeyObject, Buffer.from(signature, "latin1"));
}

/** A token signed with the private key in test/vectors/keys/<keyName>.key.pem. */
export function mintSigned(alg: SignatureAlg, keyName: string, header: object, payload: object | string): string {
  const part = (value: object | string): string => Buffer.from(typeof value === "string" ? value : JSON.stringify(value), "utf8").toString("base64url");
  const signingInput = `${part({ alg, typ: "JWT", ...header })}.${part(payload)}`;
  const privateKey = createPrivateKey(keyFile(`${keyName}.key.pem`));
  const signature = sign("sha256", Buffer.from(signingInput), alg === "ES256" ? { key: privateKey, dsaEncoding: "ieee-p1363" } : privateKey);
  return `${signingInput}.${signature.toString("base64url")}`;
}
