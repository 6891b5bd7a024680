// JSON-RPC 2.0 of POST /api: the stable error codes and the answer's framing, pure so the gateway
// (Lua) and the tests and SDK (Node) agree on every code.

import type { FailureKind } from "./failure";

export const PARSE_ERROR = -32700;
export const INVALID_REQUEST = -32600;
export const METHOD_NOT_FOUND = -32601;
export const INVALID_PARAMS = -32602;
export const INTERNAL_ERROR = -32603;
/** Application codes (the -32000 to -32099 range JSON-RPC leaves to servers). */
export const UNAVAILABLE = -32001;
export const UNAUTHORIZED = -32002;
export const FORBIDDEN = -32003;
export const LIMITED = -32004;
export const TOO_LARGE = -32005;

/** The code of a failure the core returned. */
export const FAILURE_CODES: Record<FailureKind, number> = {
  invalid: INVALID_PARAMS,
  unauthorized: UNAUTHORIZED,
  forbidden: FORBIDDEN,
  "too-large": TOO_LARGE,
  limited: LIMITED,
  unavailable: UNAVAILABLE,
  internal: INTERNAL_ERROR,
};

/** An error to answer: its code and message. */
export interface RpcError {
  code: number;
  message: string;
}

export function rpcError(code: number, message: string): RpcError {
  return { code, message };
}

/** Invalid params, naming the param. */
export function invalidParam(name: string, rule: string): RpcError {
  return { code: INVALID_PARAMS, message: `invalid params: ${name} ${rule}` };
}

/** A success answer; `id` and `result` are JSON text already. */
export function resultText(id: string, result: string): string {
  return `{"jsonrpc":"2.0","id":${id},"result":${result}}`;
}

/** An error answer; `id` is JSON text ("null" when the request's id could not be read). */
export function errorText(id: string, error: RpcError, quote: (this: void, text: string) => string): string {
  return `{"jsonrpc":"2.0","id":${id},"error":{"code":${error.code},"message":${quote(error.message)}}}`;
}
