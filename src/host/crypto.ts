// The runtime half of token verification in nginx: HMAC-SHA256 from OpenSSL's libcrypto through
// LuaJIT's FFI, and a strict JSON decoder from cjson. src/auth/jwt.ts takes both as arguments
// (HmacSha256, DecodeJson); sdk/host.ts gives Node's equivalents.
//
// Nothing is loaded on require: loadCrypto() (from init_by_lua, so a missing library stops nginx
// at start) or the first hmacSha256() call finds libcrypto. Workers forked after init inherit it.

import * as cjson from "cjson";
import ffi = require("ffi");

/**
 * One declaration per cdef call: a library loaded earlier (resty.aes, resty.string) may have
 * declared a function already, and LuaJIT then keeps the first declaration. HMAC takes the
 * digest as `const void *`, so it accepts EVP_sha256's result whatever type that was declared with.
 */
const DECLARATIONS = [
  "const struct evp_md_st *EVP_sha256(void);",
  "unsigned char *HMAC(const void *md, const void *key, int key_len, const unsigned char *data, size_t data_len, unsigned char *out, unsigned int *out_len);",
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
