/** The test driver: run pipelines without a broker (docs/testing.md). */
export {
  createTestDriver,
  type SettleOptions,
  type TestDriver,
  type TestDriverOptions,
  type TestDriverPipelines,
  type TestDriverTools,
} from './createTestDriver.js';
export { createSinkLogger, type LogLine, type LogSink, logSink } from './logSink.js';
export { createPartitionChooser, murmur2, type PartitionChooser, partitionForKey } from './partitioner.js';
export {
  type CommittedOffset,
  laneFor,
  type PipelineCrash,
  type RecordOutcome,
  type UnfinishedRecord,
} from './pipelineHarness.js';
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
  type TestHeaders,
  type TestInputRecord,
  TestInputTopic,
  TestOutputTopic,
  type TestRecord,
  type ValueDecoder,
} from './testTopics.js';
