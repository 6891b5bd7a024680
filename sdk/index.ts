// The Pushgate Node SDK: mint grants, publish over HTTP or straight to Redis. It reuses the
// gateway's own pure modules (channel names, grant patterns, base64url, token checks), so what it
// produces is what the gateway accepts. See sdk/README.md.

export { MIN_SECRET_BYTES, mintToken } from "./token";
export type { TokenGrant } from "./token";
export { publishHttp, PublishError } from "./http";
export type { PublishAnswer, PublishHttpOptions } from "./http";
export { channelCommander, publish, publishDurable } from "./redis";
export type { DurableOptions, DurablePublished, RedisClusterCommander, RedisCommander, RedisPublisher } from "./redis";
export { CHANNEL_RULE, isValidChannel } from "../src/protocol/channel";
export { grantAllows, isValidPattern, PATTERN_RULE } from "../src/auth/grant";
export { ApiError, PushgateApi } from "./api";
export type { ApiOptions, BatchItemResult, Call, CallAnswer, ChannelPresence, GatewayInfo, HistoryMessage, Published, UserOnline } from "./api";
