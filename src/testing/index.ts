/** The test driver: run pipelines without a broker (docs/testing.md). */

export { laneFor } from '../source/recordEnvelope.js';
export {
  createTestDriver,
  type PipelineInstance,
  type SettleOptions,
  type TestDriver,
  type TestDriverOptions,
  type TestDriverPipelines,
  type TestDriverTools,
} from './createTestDriver.js';
export type { CommittedOffset, PipelineCrash, RecordOutcome, UnfinishedRecord } from './driverReports.js';
export { createSinkLogger, type LogLine, type LogSink, logSink } from './logSink.js';
export { MemoryKafkaError, RebalanceInProgressError } from './memoryKafka/memoryErrors.js';
export type { GroupAssignment, MemoryGroup } from './memoryKafka/memoryGroup.js';
export {
  createMemoryKafka,
  DEFAULT_MAX_MESSAGE_BYTES,
  MemoryKafka,
  type MemoryKafkaOptions,
  type StoredRecordRequest,
} from './memoryKafka/memoryKafka.js';
export type { SendFailure, SendFailureRule } from './memoryKafka/sendFailures.js';
export { createPartitionChooser, murmur2, type PartitionChooser, partitionForKey } from './partitioner.js';
export { DEFAULT_START_TIME, TestClock } from './testClock.js';
export {
  type DeadLetter,
  type DeadLetterInfo,
  type DecodeOption,
  deadLetterInfo,
  type KeyValue,
  type OutputTopicOptions,
  type RecordPosition,
  type SchemaOutputTopicOptions,
  type StoredRecord,
  TestDeadLetterTopic,
  type TestInputRecord,
  TestInputTopic,
  TestOutputTopic,
  type TestRecord,
  type ValueDecoder,
} from './testTopics.js';
