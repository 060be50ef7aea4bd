/** Tributary's one public entry point. */

export * from '../operators/index.js';
export { type CancelTimer, type Clock, systemClock } from './clock.js';
export type {
  Element,
  Envelope,
  FailedEnvelope,
  Outcome,
  PipelineContext,
  RawValue,
  RecordOrigin,
  RecordTicket,
  SettledOutcome,
} from './envelope.js';
export { failed, observedTicket, withAttempts, withValue } from './envelope.js';
export { ERROR_CATALOGUE, errorMessage, isRetriable, TributaryError, type TributaryErrorCode } from './errors.js';
export { type EngineObserver, noopObserver } from './instrumentation.js';
export { readIntegerHeader, readTextHeader } from './kafka/headers.js';
export { createKafkajsClient, type KafkaConnectionConfig } from './kafka/kafkajsClient.js';
export type * from './kafka/ports.js';
export { laneOfElement, mergeMapByLane } from './lanes.js';
export * from './retryTopics/index.js';
export { buildDeadLetterRecord, DEAD_LETTER_HEADERS } from './runtime/deadLetterRecord.js';
export {
  definePipeline,
  type OrderingMode,
  type Pipeline,
  type PipelineConfig,
  type PipelineSource,
} from './runtime/definePipeline.js';
export { createEngine, type Engine, type EngineOptions, type EngineStatus } from './runtime/engine.js';
export { type InspectedStage, inspectPipeline, type PipelineInspection } from './runtime/inspectPipeline.js';
export { describeStage, STAGE_INFO, type StageInfo, stageInfoOf } from './runtime/stageInfo.js';
export * from './testing/index.js';
