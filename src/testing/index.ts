/**
 * The package's test entry point (`tributary-kafka/testing`, docs/testing.md): the test driver, its virtual clock,
 * the in-memory Kafka it runs on, the log sink, and the partitioner it shares with the producers. Kept out of the main
 * entry, as `rxjs/testing` is.
 */

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
export type { MemoryCluster } from './memoryKafka/memoryCluster.js';
export { MemoryKafkaError, RebalanceInProgressError } from './memoryKafka/memoryErrors.js';
export type { GroupAssignment, GroupCluster, GroupMember, MemoryGroup } from './memoryKafka/memoryGroup.js';
export {
  createMemoryKafka,
  DEFAULT_MAX_MESSAGE_BYTES,
  type MemoryKafka,
  type MemoryKafkaOptions,
  type StoredRecordRequest,
} from './memoryKafka/memoryKafka.js';
export type { SendFailure, SendFailureRule, SendFailures } from './memoryKafka/sendFailures.js';
export { createPartitionChooser, murmur2, type PartitionChooser, partitionForKey } from './partitioner.js';
export { DEFAULT_START_TIME, TestClock } from './testClock.js';
// The topic classes are types only: the driver creates them (driver.inputTopic, outputTopic, deadLetterTopic).
export {
  type AppendRequest,
  type DeadLetter,
  type DeadLetterInfo,
  type DecodeOption,
  deadLetterInfo,
  type KeyValue,
  type OutputTopicOptions,
  type RecordPosition,
  type SchemaOutputTopicOptions,
  type StoredRecord,
  type TestDeadLetterTopic,
  type TestInputRecord,
  type TestInputTopic,
  type TestOutputTopic,
  type TestRecord,
  type TopicLog,
  type ValueDecoder,
} from './testTopics.js';
