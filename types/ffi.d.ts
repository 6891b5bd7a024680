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
  new: (this: void, ctype: string, init?: unknown) => FfiCData;
  /** The bytes at `pointer` as a Lua string: `length` bytes, or up to the first NUL. */
  string(pointer: FfiCData, length?: number): string;
  /** `value` converted to the C type `ctype`, e.g. a pointer to "uintptr_t". */
  cast(ctype: string, value: unknown): FfiCData;
}

/** @noResolution */
declare module "resty.core.base" {
  /** The current request (an `ngx_http_request_t *`), or nil outside a request. */
  function get_request(this: void): FfiCData | undefined;
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
  /** `BIO *BIO_new_mem_buf(const void *buf, int len)`: a read-only BIO over `buf` (kept alive by the caller). */
  BIO_new_mem_buf(buf: string, length: number): FfiCData | undefined;
  BIO_free(bio: FfiCData): number;
  /** `EVP_PKEY *PEM_read_bio_PUBKEY(BIO *bp, EVP_PKEY **x, pem_password_cb *cb, void *u)`: a PEM SubjectPublicKeyInfo. */
  PEM_read_bio_PUBKEY(bio: FfiCData, x: undefined, cb: undefined, u: undefined): FfiCData | undefined;
  /** `EVP_PKEY *d2i_PUBKEY(EVP_PKEY **a, const unsigned char **pp, long length)`: a DER SubjectPublicKeyInfo. */
  d2i_PUBKEY(a: undefined, pp: FfiCData, length: number): FfiCData | undefined;
  EVP_PKEY_free(key: FfiCData): void;
  /** OpenSSL 3: 1 when the key is of the named type ("RSA", "EC"). */
  EVP_PKEY_is_a(key: FfiCData, name: string): number;
  /** OpenSSL 3: the curve's name of an EC key ("prime256v1"); 1 on success. */
  EVP_PKEY_get_group_name(key: FfiCData, name: FfiCData, size: number, length: FfiCData): number;
  EVP_PKEY_get_bits(key: FfiCData): number;
  EVP_MD_CTX_new(): FfiCData | undefined;
  EVP_MD_CTX_free(ctx: FfiCData): void;
  /** `int EVP_DigestVerifyInit(EVP_MD_CTX *ctx, EVP_PKEY_CTX **pctx, const EVP_MD *type, ENGINE *e, EVP_PKEY *pkey)`: 1 on success. */
  EVP_DigestVerifyInit(ctx: FfiCData, pctx: undefined, md: FfiCData, engine: undefined, key: FfiCData): number;
  /** `int EVP_DigestVerify(EVP_MD_CTX *ctx, const unsigned char *sig, size_t siglen, const unsigned char *tbs, size_t tbslen)`: 1 valid, 0 not, < 0 error. */
  EVP_DigestVerify(ctx: FfiCData, signature: string, signatureLength: number, data: string, dataLength: number): number;
  ERR_clear_error(): void;
}
