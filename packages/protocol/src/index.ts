export {
  encodeBatch,
  packBatches,
  planBatches,
  unpackBatch,
  unpackPositioned,
  type BatchEntries,
  type BatchLimits,
  type BatchPlan,
  type PositionedFrames,
} from './batch.js';
export { CloseCode } from './close-codes.js';
export { parseCommand, type Command, type CommandOp, type ResumePoint } from './command.js';
export { ERRORS, grpcStatusOf, ProtocolError, type ErrorCode, type GrpcStatusName } from './errors.js';
export {
  decodeServerFrame,
  encodeAck,
  encodeDelivery,
  encodeError,
  encodeGap,
  encodeSubscribed,
  encodeWaiting,
  encodeUnsubscribed,
  type Recovery,
  type ServerFrame,
} from './frames.js';
export { GROUP_NAME_PATTERN, isNodeGroup, MAX_NODE_ID_CHARS, NODE_GROUP_PREFIX } from './group.js';
export { decodeHopAck, encodeHopAck, type HopAck } from './hop.js';
export { findMember, scanObject, splitArray, type MemberSpan, type ObjectScan } from './json-scan.js';
export {
  DEFAULT_MAX_PAYLOAD_BYTES,
  HOP_ENVELOPE_OVERHEAD_BYTES,
  MAX_ID_BYTES,
  MAX_JSON_DEPTH,
  MAX_TOPIC_BYTES,
} from './limits.js';
export {
  parsePublish,
  readDelivery,
  readQueued,
  readRouting,
  validateId,
  type DeliveryFields,
  type Publish,
  type QueuedMessage,
} from './publish.js';
export { GRPC_METHODS, PUBSUB_PROTO_FILE } from './proto-file.js';
export {
  isPattern,
  matchTokens,
  ONE_TOKEN,
  patternCovers,
  patternMatches,
  TAIL_TOKENS,
  tokensOf,
  TopicRights,
  validatePattern,
} from './pattern.js';
export { PatternIndex } from './pattern-index.js';
export { validateTopic } from './topic.js';
export {
  decodeLogPageMeta,
  decodeTopicPosition,
  encodeTopicPosition,
  LOG_PAGE_HEADERS,
  LOG_PAGE_TYPE,
  type LogPageMeta,
  type TopicPositionReply,
} from './log-page.js';
export { decodeQueueStats, type GroupStats, type QueueStats } from './queue-stats.js';
