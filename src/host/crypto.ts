// The runtime half of token verification in nginx: HMAC-SHA256 and RS256/ES256 signature checks
// (EVP_PKEY from PEM or DER, EVP_DigestVerify) from OpenSSL's libcrypto through LuaJIT's FFI, and
// a strict JSON decoder from cjson. src/auth/jwt.ts and jwk.ts take them as arguments
// (HmacSha256, VerifySignature, LoadPemKey, LoadDerKey, DecodeJson); sdk/host.ts and the tests
// give Node's equivalents. Public keys need OpenSSL 3 (EVP_PKEY_is_a, EVP_PKEY_get_group_name).
//
// Nothing is loaded on require: loadCrypto() (from init_by_lua, so a missing library stops nginx
// at start) or the first hmacSha256() call finds libcrypto. Workers forked after init inherit it.

import * as cjson from "cjson";
import ffi = require("ffi");
import type { PublicKey, SignatureAlg } from "../auth/jwt";

/**
 * One declaration per cdef call: a library loaded earlier (resty.aes, resty.string) may have
 * declared a function already, and LuaJIT then keeps the first declaration. HMAC takes the
 * digest as `const void *`, so it accepts EVP_sha256's result whatever type that was declared with.
 */
const DECLARATIONS = [
  "const struct evp_md_st *EVP_sha256(void);",
  "unsigned char *HMAC(const void *md, const void *key, int key_len, const unsigned char *data, size_t data_len, unsigned char *out, unsigned int *out_len);",
  "void *BIO_new_mem_buf(const void *buf, int len);",
  "int BIO_free(void *a);",
  "void *PEM_read_bio_PUBKEY(void *bp, void *x, void *cb, void *u);",
  "void *d2i_PUBKEY(void *a, const char **pp, long length);",
  "void EVP_PKEY_free(void *pkey);",
  "int EVP_PKEY_is_a(const void *pkey, const char *name);",
  "int EVP_PKEY_get_group_name(const void *pkey, char *name, size_t name_sz, size_t *gname_len);",
  "int EVP_PKEY_get_bits(const void *pkey);",
  "void *EVP_MD_CTX_new(void);",
  "void EVP_MD_CTX_free(void *ctx);",
  "int EVP_DigestVerifyInit(void *ctx, void *pctx, const void *type, void *e, void *pkey);",
  "int EVP_DigestVerify(void *ctx, const unsigned char *sigret, size_t siglen, const unsigned char *tbs, size_t tbslen);",
  "void ERR_clear_error(void);",
];

/** Where libcrypto may be, after the process itself: the development link, then OpenSSL 3's soname. */
const LIBRARY_NAMES = ["crypto", "libcrypto.so.3"];

const DIGEST_BYTES = 32;

interface HmacState {
  lib: LibCrypto;
  sha256: FfiCData;
  /** Reused output buffers: nothing yields between HMAC() and ffi.string(). */
  digest: FfiCData;
  digestLength: FfiCData;
}

let hmacState: HmacState | undefined;

/** Raises when `lib` lacks one of the functions (indexing a missing symbol raises). */
function checkSymbols(this: void, lib: FfiLibrary): LibCrypto {
  const crypto = lib as unknown as LibCrypto;
  if (crypto.HMAC === undefined || crypto.EVP_sha256 === undefined) {
    error("missing symbol");
  }
  return crypto;
}

/**
 * nginx links OpenSSL, so its functions are usually in the process already (ffi.C): then the
 * gateway uses the very library nginx uses. Plain LuaJIT (busted) loads it by name.
 */
function findLibCrypto(): LuaMultiReturn<[LibCrypto] | [undefined, string]> {
  const [inProcess, processCrypto] = pcall(checkSymbols, ffi.C);
  if (inProcess) {
    return $multi(processCrypto);
  }
  const failures: string[] = [];
  for (const name of LIBRARY_NAMES) {
    const [loaded, lib] = pcall(ffi.load, name);
    if (!loaded) {
      failures.push(`${name}: ${lib}`);
    } else {
      const [found, crypto] = pcall(checkSymbols, lib);
      if (found) {
        return $multi(crypto);
      }
      failures.push(`${name}: ${crypto}`);
    }
  }
  return $multi(undefined, `failed to load libcrypto (OpenSSL): ${failures.join("; ")}`);
}

/** Finds libcrypto and prepares HMAC-SHA256. Call it at start; later calls return at once. */
export function loadCrypto(): LuaMultiReturn<[true] | [undefined, string]> {
  if (hmacState !== undefined) {
    return $multi(true);
  }
  for (const declaration of DECLARATIONS) {
    pcall(ffi.cdef, declaration);
  }
  const [lib, err] = findLibCrypto();
  if (lib === undefined) {
    return $multi(undefined, err);
  }
  hmacState = {
    lib,
    sha256: lib.EVP_sha256(),
    digest: ffi.new(`unsigned char[${DIGEST_BYTES}]`),
    digestLength: ffi.new("unsigned int[1]"),
  };
  return $multi(true);
}

/** HMAC-SHA256 of `data` under `key` (both byte strings): the raw 32-byte digest. */
export function hmacSha256(this: void, key: string, data: string): string {
  if (hmacState === undefined) {
    const [loaded, err] = loadCrypto();
    if (loaded === undefined) {
      error(err);
    }
  }
  const state = hmacState as HmacState;
  const out = state.lib.HMAC(state.sha256, key, key.length, data, data.length, state.digest, state.digestLength);
  if (out === undefined) {
    error("failed to compute HMAC-SHA256: libcrypto's HMAC() returned NULL");
  }
  return ffi.string(state.digest, DIGEST_BYTES);
}

/** Smallest RSA modulus accepted for RS256 (RFC 7518 §3.3 asks for 2048 bits). */
const MIN_RSA_BITS = 2048;

function loadedLib(): LibCrypto {
  if (hmacState === undefined) {
    const [loaded, err] = loadCrypto();
    if (loaded === undefined) {
      error(err);
    }
  }
  return (hmacState as HmacState).lib;
}

/** Raises unless libcrypto has OpenSSL 3's key functions. */
function checkKeySymbols(this: void, lib: LibCrypto): void {
  if (lib.EVP_PKEY_is_a === undefined || lib.EVP_PKEY_get_group_name === undefined || lib.EVP_DigestVerify === undefined) {
    error("missing symbol");
  }
}

/** The algorithm an EVP_PKEY verifies: RS256 for RSA of 2048 bits or more, ES256 for P-256. Frees the key when it is neither. */
function algorithmOf(lib: LibCrypto, key: FfiCData): LuaMultiReturn<[FfiCData, SignatureAlg] | [undefined, string]> {
  if (lib.EVP_PKEY_is_a(key, "RSA") === 1) {
    const bits = lib.EVP_PKEY_get_bits(key);
    if (bits < MIN_RSA_BITS) {
      lib.EVP_PKEY_free(key);
      return $multi(undefined, `an RSA key of ${bits} bits is too small: at least ${MIN_RSA_BITS}`);
    }
    return $multi(key, "RS256" as SignatureAlg);
  }
  if (lib.EVP_PKEY_is_a(key, "EC") === 1) {
    const name = ffi.new("char[64]");
    const length = ffi.new("size_t[1]");
    if (lib.EVP_PKEY_get_group_name(key, name, 64, length) === 1 && ffi.string(name) === "prime256v1") {
      return $multi(key, "ES256" as SignatureAlg);
    }
    lib.EVP_PKEY_free(key);
    return $multi(undefined, "an EC key must be on the P-256 curve (ES256)");
  }
  lib.EVP_PKEY_free(key);
  return $multi(undefined, "the key is neither RSA nor EC");
}

/** libcrypto with OpenSSL 3's key functions, or the reason there is none. */
function keyLib(): LuaMultiReturn<[LibCrypto] | [undefined, string]> {
  const lib = loadedLib();
  const [ok] = pcall(checkKeySymbols, lib);
  if (!ok) {
    return $multi(undefined, "public keys need OpenSSL 3's libcrypto");
  }
  return $multi(lib);
}

/** A PEM public key ("-----BEGIN PUBLIC KEY-----", SubjectPublicKeyInfo): the key and its algorithm. */
export function loadPemKey(this: void, pem: string): LuaMultiReturn<[unknown, SignatureAlg] | [undefined, string]> {
  const [lib, libErr] = keyLib();
  if (lib === undefined) {
    return $multi(undefined, libErr);
  }
  const bio = lib.BIO_new_mem_buf(pem, pem.length);
  if (bio === undefined) {
    return $multi(undefined, "failed to read the PEM: out of memory");
  }
  const key = lib.PEM_read_bio_PUBKEY(bio, undefined, undefined, undefined);
  lib.BIO_free(bio);
  if (key === undefined) {
    lib.ERR_clear_error();
    return $multi(undefined, "not a PEM public key (-----BEGIN PUBLIC KEY-----)");
  }
  return algorithmOf(lib, key);
}

/** A DER SubjectPublicKeyInfo (built from a JWK by src/auth/der.ts): the key. */
export function loadDerKey(this: void, der: string): LuaMultiReturn<[unknown] | [undefined, string]> {
  const [lib, libErr] = keyLib();
  if (lib === undefined) {
    return $multi(undefined, libErr);
  }
  const cursor = ffi.new("const char *[1]", [der]);
  const key = lib.d2i_PUBKEY(undefined, cursor, der.length);
  if (key === undefined) {
    lib.ERR_clear_error();
    return $multi(undefined, "openssl does not take the key");
  }
  const [checked, err] = algorithmOf(lib, key);
  if (checked === undefined) {
    return $multi(undefined, err);
  }
  return $multi(checked);
}

/**
 * Verifies `signature` over `data` with SHA-256 under `key` (from loadPemKey or loadDerKey): a
 * PKCS#1 v1.5 signature for RSA, DER ECDSA-Sig-Value for EC. A context per check (once per
 * connection, not per message): no state carried from one check to the next.
 */
export function verifySignature(this: void, key: PublicKey, data: string, signature: string): boolean {
  const lib = loadedLib();
  const context = lib.EVP_MD_CTX_new();
  if (context === undefined) {
    error("failed to verify a signature: EVP_MD_CTX_new returned NULL");
  }
  let verdict = 0;
  if (lib.EVP_DigestVerifyInit(context, undefined, (hmacState as HmacState).sha256, undefined, key.handle as FfiCData) === 1) {
    verdict = lib.EVP_DigestVerify(context, signature, signature.length, data, data.length);
  }
  lib.EVP_MD_CTX_free(context);
  if (verdict !== 1) {
    lib.ERR_clear_error();
  }
  return verdict === 1;
}

/** @noSelf A cjson instance of our own: its settings leave the shared module alone. */
interface CjsonInstance {
  decode(text: string): unknown;
  decode_invalid_numbers(enabled: boolean): void;
}

let strictJson: CjsonInstance | undefined;

/**
 * Decodes JSON as JSON.parse does: cjson by default also takes NaN, Infinity and hex numbers,
 * which this instance refuses, so both runtimes agree on what is JSON.
 * Returns the value (cjson.null for null), or undefined and cjson's message.
 */
export function decodeJson(this: void, text: string): LuaMultiReturn<[unknown] | [undefined, string]> {
  if (strictJson === undefined) {
    // cjson.new() is not in types/resty.d.ts's declaration of the module.
    const cjsonModule = cjson as unknown as { new: (this: void) => CjsonInstance };
    strictJson = cjsonModule.new();
    strictJson.decode_invalid_numbers(false);
  }
  const [ok, value] = pcall(strictJson.decode, text);
  if (!ok) {
    return $multi(undefined, `failed to decode json: ${value}`);
  }
  return $multi(value);
}
