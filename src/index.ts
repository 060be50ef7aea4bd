/**
 * The package's main entry point (`tributary-kafka`): the engine, the operators, configuration and logging, and every
 * type their signatures use. The test driver is `tributary-kafka/testing` (src/testing/index.ts); the Prometheus
 * metrics and the /metrics, /healthz and /readyz server are `tributary-kafka/metrics` (metrics/index.ts).
 */

export * from '../operators/index.js';
export type { CancelTimer, Clock } from './clock.js';
export { CONFIG_EXIT_CODE, ConfigError, type ConfigProblem, formatConfigError } from './config/configError.js';
export {
  KAFKA_CLIENTS,
  type KafkaClientLibrary,
  LOG_LEVELS,
  type LogLevel,
  SASL_MECHANISMS,
  type SaslMechanism,
} from './config/configSchema.js';
export {
  type KafkaConfig,
  type KafkaSaslConfig,
  type KafkaSslConfig,
  loadConfig,
  redactConfig,
  type TributaryConfig,
} from './config/loadConfig.js';
export type {
  Element,
  Envelope,
  EnvelopeBase,
  FailedEnvelope,
  Outcome,
  PipelineContext,
  RawValue,
  RecordOrigin,
  RecordTicket,
  SettledOutcome,
} from './envelope.js';
export { failed, observedTicket, withAttempts, withValue } from './envelope.js';
export {
  ERROR_CATALOGUE,
  errorMessage,
  isRetriable,
  TributaryError,
  type TributaryErrorCode,
  type TributaryErrorContext,
} from './errors.js';
export type { EngineObserver } from './instrumentation.js';
export { type HeaderField, readIntegerHeader, readTextHeader } from './kafka/headers.js';
export { createKafkajsClient, type KafkaConnectionConfig } from './kafka/kafkajsClient.js';
export type * from './kafka/ports.js';
export { laneOfElement, mergeMapByLane } from './lanes.js';
export { createLogger, type LoggerOptions, type RecordBindings, recordBindings } from './logger.js';
export {
  buildDeadLetterRecord,
  DEAD_LETTER_HEADERS,
  type DeadLetterOptions,
} from './runtime/deadLetterRecord.js';
export {
  definePipeline,
  type OrderingMode,
  type Pipeline,
  type PipelineConfig,
  type PipelineConsumerTuning,
  type PipelineSource,
  pipelineConfigSchema,
} from './runtime/definePipeline.js';
export {
  createEngine,
  type Engine,
  type EngineOptions,
  type EngineStatus,
  type PipelineStatus,
} from './runtime/engine.js';
export { type InspectedStage, inspectPipeline, type PipelineInspection } from './runtime/inspectPipeline.js';
export type { RunnerState } from './runtime/pipelineRunner.js';
export { describeStage, type StageInfo } from './runtime/stageInfo.js';
