export { type AwaitRetryDueConfig, awaitRetryDue, awaitRetryDueConfigSchema } from './awaitRetryDue.js';
export {
  type BranchToDeadLetterConfig,
  branchToDeadLetter,
  branchToDeadLetterConfigSchema,
} from './branchToDeadLetter.js';
export { type DedupeConfig, type DedupeStore, dedupe, dedupeConfigSchema } from './dedupe.js';
export { type FilterValueConfig, filterValue, filterValueConfigSchema } from './filterValue.js';
export {
  RETRY_HEADERS,
  type RetryDelay,
  type RetryTopicsConfig,
  retryTopicName,
  retryTopicNames,
} from './internal/retryTopics.js';
export { type MapValueConfig, mapValue, mapValueConfigSchema } from './mapValue.js';
export { type MemoryDedupeStoreConfig, memoryDedupeStore, memoryDedupeStoreConfigSchema } from './memoryDedupeStore.js';
export { type Codec, codecSchema, type Decoder, type ParseConfig, parse, parseConfigSchema } from './parse.js';
export { type ParseJsonConfig, parseJson, parseJsonConfigSchema } from './parseJson.js';
export { type PublishConfig, publish, serializeValue } from './publish.js';
export { type RedisDedupeStoreConfig, redisDedupeStore, redisDedupeStoreConfigSchema } from './redisDedupeStore.js';
export { type RetryViaTopicsConfig, retryViaTopics, retryViaTopicsConfigSchema } from './retryViaTopics.js';
export {
  type RetryAttempt,
  type RetryFunction,
  type RetryWithBackoffConfig,
  retryWithBackoff,
  retryWithBackoffConfigSchema,
} from './retryWithBackoff.js';
export {
  type RouteConfig,
  type RouteOutput,
  type RouteTable,
  type RouteTarget,
  route,
  routeConfigSchema,
} from './route.js';
export { type SinkConfig, type SinkFunction, sink, sinkConfigSchema } from './sink.js';
export { type SinkBatchConfig, type SinkBatchFunction, sinkBatch, sinkBatchConfigSchema } from './sinkBatch.js';
export { type TapValueConfig, tapValue, tapValueConfigSchema } from './tapValue.js';
export { type ValidateConfig, validate, validateConfigSchema } from './validate.js';
