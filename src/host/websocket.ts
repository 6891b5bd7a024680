// The one place that finds lua-resty-websocket (OpenResty: `resty.websocket.*`, Debian:
// `nginx.websocket.*`): the server module for the handshake, the protocol module for frames.

/** Where lua-resty-websocket lives: OpenResty's names first, then Debian's. */
const SERVER_MODULE_NAMES = ["resty.websocket.server", "nginx.websocket.server"];
const PROTOCOL_MODULE_NAMES = ["resty.websocket.protocol", "nginx.websocket.protocol"];

export const OPCODE_TEXT = 0x1;
export const OPCODE_CLOSE = 0x8;
export const OPCODE_PING = 0x9;
export const OPCODE_PONG = 0xa;

let serverModule: RestyWebsocketServerModule | undefined;
let protocolModule: RestyWebsocketProtocol | undefined;

function requireFirst(names: string[]): unknown {
  for (const name of names) {
    const [found, mod] = pcall(require, name);
    if (found) {
      return mod;
    }
  }
  error(`lua-resty-websocket not found as ${names.join(" or ")}: install lua-nginx-websocket`);
}

function protocol(): RestyWebsocketProtocol {
  if (protocolModule === undefined) {
    protocolModule = requireFirst(PROTOCOL_MODULE_NAMES) as RestyWebsocketProtocol;
  }
  return protocolModule;
}

/** Answers the upgrade (101) and returns the connection's raw socket. */
export function handshake(): LuaMultiReturn<[NgxTcpSocket] | [undefined, string]> {
  if (serverModule === undefined) {
    serverModule = requireFirst(SERVER_MODULE_NAMES) as RestyWebsocketServerModule;
  }
  protocol(); // found now, so a missing module fails the handshake rather than the first frame
  const [server, err] = serverModule.new();
  if (server === undefined) {
    return $multi(undefined, `failed to complete the websocket handshake: ${err}`);
  }
  return $multi(server.sock);
}

/** Reads one frame from a client (masked, at most `maxBytes` of payload); see RestyWebsocketProtocol. */
export function recvFrame(
  sock: NgxTcpSocket,
  maxBytes: number,
): LuaMultiReturn<[string, string, string | number | undefined] | [undefined, undefined, string]> {
  return protocol().recv_frame(sock, maxBytes, true);
}

/** The bytes of one whole (final) server frame, built once to send to many clients with sock:send. */
export function buildFrame(opcode: number, payload: string): LuaMultiReturn<[string] | [undefined, string]> {
  return protocol().build_frame(true, opcode, payload.length, payload, false);
}
