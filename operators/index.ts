export { type AwaitRetryDueOptions, awaitRetryDue, awaitRetryDueOptionsSchema } from './awaitRetryDue.js';
export {
  type BranchToDeadLetterOptions,
  branchToDeadLetter,
  branchToDeadLetterOptionsSchema,
} from './branchToDeadLetter.js';
export { type DedupeOptions, type DedupeStore, dedupe, dedupeOptionsSchema } from './dedupe.js';
export { type FilterValueOptions, filterValue, filterValueOptionsSchema } from './filterValue.js';
export { type MapValueOptions, mapValue, mapValueOptionsSchema } from './mapValue.js';
export {
  type MemoryDedupeStoreOptions,
  memoryDedupeStore,
  memoryDedupeStoreOptionsSchema,
} from './memoryDedupeStore.js';
export { type Codec, codecSchema, type Decoder, type ParseOptions, parse, parseOptionsSchema } from './parse.js';
export { type ParseJsonOptions, parseJson, parseJsonOptionsSchema } from './parseJson.js';
export { type PublishOptions, publish, publishOptionsSchema } from './publish.js';
export {
  type RedisDedupeClient,
  type RedisDedupeStoreOptions,
  redisDedupeStore,
  redisDedupeStoreOptionsSchema,
} from './redisDedupeStore.js';
export * from './retryTopics/index.js';
export { type RetryViaTopicsOptions, retryViaTopics, retryViaTopicsOptionsSchema } from './retryViaTopics.js';
export {
  type RetryAttempt,
  type RetryFunction,
  type RetryWithBackoffOptions,
  retryWithBackoff,
  retryWithBackoffOptionsSchema,
} from './retryWithBackoff.js';
export {
  type RouteOptions,
  type RouteOutput,
  type RouteTable,
  type RouteTarget,
  route,
  routeOptionsSchema,
} from './route.js';
export { type SinkFunction, type SinkOptions, sink, sinkOptionsSchema } from './sink.js';
export { type SinkBatchFunction, type SinkBatchOptions, sinkBatch, sinkBatchOptionsSchema } from './sinkBatch.js';
export { type TapValueOptions, tapValue, tapValueOptionsSchema } from './tapValue.js';
export { type ValidateOptions, validate, validateOptionsSchema } from './validate.js';
