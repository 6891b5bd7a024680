// Declarations for the parts of LuaJIT's FFI library that Pushgate uses, and for the C functions
// it calls through it. Names stay as in the LuaJIT and OpenSSL docs.

/** A C value handed out by the FFI: a pointer, an array or a struct. A NULL pointer equals nil. */
interface FfiCData {
  readonly __ffiCDataBrand: unique symbol;
}

/** A C library namespace: `ffi.C` or what `ffi.load` returns. Indexing a missing symbol raises. */
interface FfiLibrary {
  readonly __ffiLibraryBrand: unique symbol;
}

/** @noSelf */
interface FfiModule {
  /** Declares C types and functions; raises on a syntax error. */
  cdef(declarations: string): void;
  /** The default C namespace: the symbols of the process (nginx and the libraries it links). */
  readonly C: FfiLibrary;
  /** Loads a shared library by name ("crypto" is libcrypto.so) or path; raises when not found. */
  load(name: string, global?: boolean): FfiLibrary;
  /** A new zero-filled C value of the given type, e.g. "unsigned char[32]". */
  new: (this: void, ctype: string) => FfiCData;
  /** The bytes at `pointer` as a Lua string: `length` bytes, or up to the first NUL. */
  string(pointer: FfiCData, length?: number): string;
}

/** @noResolution */
declare module "ffi" {
  const ffi: FfiModule;
  export = ffi;
}

/**
 * The libcrypto (OpenSSL) functions called through the FFI, as declared by src/host/crypto.ts.
 * Lua strings pass as `const void *` / `const unsigned char *` arguments.
 * @noSelf
 */
interface LibCrypto {
  /** `const EVP_MD *EVP_sha256(void)`: a static object, never freed. */
  EVP_sha256(): FfiCData;
  /**
   * `unsigned char *HMAC(const EVP_MD *md, const void *key, int key_len,
   *                      const unsigned char *data, size_t data_len,
   *                      unsigned char *out, unsigned int *out_len)`
   * Returns `out`, or NULL (nil) on failure.
   */
  HMAC(md: FfiCData, key: string, keyLength: number, data: string, dataLength: number, out: FfiCData, outLength: FfiCData): FfiCData | undefined;
}
