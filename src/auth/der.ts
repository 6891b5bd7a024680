// The few DER (ASN.1) encodings token verification needs, so OpenSSL can take what JOSE gives:
// - an ES256 signature is raw r || s (RFC 7518 §3.4, 64 bytes), OpenSSL verifies
//   ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER };
// - a JWK (RFC 7517/7518) gives an RSA key as n, e and a P-256 key as x, y, OpenSSL loads a
//   SubjectPublicKeyInfo (RFC 5280 §4.1, RFC 3279 §2.3.1, RFC 5480 §2).
// Encoding only, no arithmetic: no crypto is written here. Pure logic on byte strings (see
// base64url.ts), compiled to Lua for nginx and run by Node for jest.

/** Length octets: short form below 128, else long form (at most 3 length bytes here). */
function lengthOctets(length: number): string {
  if (length < 128) {
    return String.fromCharCode(length);
  }
  if (length < 256) {
    return String.fromCharCode(0x81, length);
  }
  if (length < 65536) {
    return String.fromCharCode(0x82, length >> 8, length & 255);
  }
  return String.fromCharCode(0x83, length >> 16, (length >> 8) & 255, length & 255);
}

function tagged(tag: number, content: string): string {
  return `${String.fromCharCode(tag)}${lengthOctets(content.length)}${content}`;
}

/** An unsigned big-endian integer as DER INTEGER: leading zeros dropped, a 0 added before a high bit. */
function unsignedInteger(bytes: string): string {
  let start = 0;
  while (start < bytes.length - 1 && bytes.charCodeAt(start) === 0) {
    start += 1;
  }
  const digits = bytes.substring(start);
  const positive = digits.length > 0 && digits.charCodeAt(0) >= 128 ? `${String.fromCharCode(0)}${digits}` : digits;
  return tagged(0x02, positive.length > 0 ? positive : String.fromCharCode(0));
}

function sequence(content: string): string {
  return tagged(0x30, content);
}

/** A BIT STRING of whole bytes (no unused bits). */
function bitString(bytes: string): string {
  return tagged(0x03, `${String.fromCharCode(0)}${bytes}`);
}

// AlgorithmIdentifier of rsaEncryption (1.2.840.113549.1.1.1) with NULL parameters.
const RSA_ALGORITHM = sequence(String.fromCharCode(0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00));
// AlgorithmIdentifier of id-ecPublicKey (1.2.840.10045.2.1) on the named curve prime256v1 (1.2.840.10045.3.1.7).
const P256_ALGORITHM = sequence(
  String.fromCharCode(0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07),
);

/** Bytes of one P-256 coordinate, and of each half of an ES256 signature. */
export const P256_BYTES = 32;

/** An ES256 signature (r || s, 64 bytes) as DER ECDSA-Sig-Value; undefined for any other length. */
export function ecdsaSignatureToDer(raw: string): string | undefined {
  if (raw.length !== 2 * P256_BYTES) {
    return undefined;
  }
  return sequence(`${unsignedInteger(raw.substring(0, P256_BYTES))}${unsignedInteger(raw.substring(P256_BYTES))}`);
}

/** SubjectPublicKeyInfo of the RSA public key with modulus `n` and exponent `e` (big-endian bytes). */
export function rsaPublicKeyInfo(n: string, e: string): string {
  const rsaPublicKey = sequence(`${unsignedInteger(n)}${unsignedInteger(e)}`);
  return sequence(`${RSA_ALGORITHM}${bitString(rsaPublicKey)}`);
}

/** SubjectPublicKeyInfo of the P-256 point (x, y), 32 bytes each, as an uncompressed point. */
export function p256PublicKeyInfo(x: string, y: string): string {
  return sequence(`${P256_ALGORITHM}${bitString(`${String.fromCharCode(4)}${x}${y}`)}`);
}
