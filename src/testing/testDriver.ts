/** The test driver's public shape: its options, what it returns, and the running instances it reports. */
import type { LevelWithSilent, Logger } from 'pino';
import type * as z from 'zod';
import type { EngineObserver } from '../instrumentation.js';
import type { OutgoingRecord, TopicPartition } from '../kafka/ports.js';
import type { Pipeline } from '../runtime/definePipeline.js';
import type { RunnerState } from '../runtime/pipelineRunner.js';
import type { CommittedOffset, PipelineCrash, RecordOutcome, UnfinishedRecord } from './driverReports.js';
import type { LogLine, LogSink } from './logSink.js';
import type { MemoryKafka } from './memoryKafka/memoryKafka.js';
import type { SendFailure, SendFailureRule } from './memoryKafka/sendFailures.js';
import type { TestClock } from './testClock.js';
import type {
  SchemaOutputTopicOptions,
  TestDeadLetterTopic,
  TestInputTopic,
  TestOutputTopic,
  ValueDecoder,
} from './testTopics.js';

/** What a pipeline factory passed to `createTestDriver` receives. */
export interface TestDriverTools {
  /** The driver's virtual clock; pass it as `scheduler` to timed operators. */
  readonly scheduler: TestClock;
  /** The virtual time in ms since the epoch (`scheduler.now()`). */
  now(): number;
}

/** The pipelines a driver runs: one, several (they exchange records through shared topics), or a factory. */
export type TestDriverPipelines =
  | Pipeline<unknown>
  | readonly Pipeline<unknown>[]
  | ((tools: TestDriverTools) => Pipeline<unknown> | readonly Pipeline<unknown>[]);

export interface TestDriverOptions {
  /** Virtual time at the start, ms since the epoch. Default 2024-01-01T00:00:00Z. Ignored when `scheduler` is given. */
  startTime?: number;
  /** A clock created beforehand (to hand to a pipeline factory before the driver exists). Default: a new one. */
  scheduler?: TestClock;
  /** Partitions per topic name. Topics not listed get `defaultPartitions`. */
  partitions?: Readonly<Record<string, number>>;
  /** Partitions of a topic not listed in `partitions`. Default 1. */
  defaultPartitions?: number;
  /** Lowest level kept in `driver.logs`. Default `'debug'`. */
  logLevel?: LevelWithSilent;
  /** Receives the engine's metric events (records consumed and finished, retries, in-flight, commits). */
  observer?: EngineObserver;
  /**
   * Called with each record the engine's producer sends (outputs and dead letters), before the in-memory broker
   * writes it. Throw or reject to make the broker refuse that send: an error with `retriable: false` is permanent
   * (publish fails, the record is dead-lettered); any other is retried by the engine's producer with its own backoff,
   * on the virtual clock. `driver.failSends()` does the same per topic or partition without a function.
   */
  onSend?: (record: OutgoingRecord) => void | PromiseLike<void>;
  /**
   * A crashed pipeline is restarted by its supervisor, as in the engine: from the committed offsets, after the
   * engine's backoff (0.5 s doubling to 30 s) of virtual time. `'throw'` (default) also makes the next
   * `pipeInput`/`settle`/`advanceTime` throw TRIBUTARY_ERR_PIPELINE_CRASHED (call `driver.restart()` to restart at once);
   * `'restart'` only records the crash in `driver.crashes`.
   */
  onCrash?: 'throw' | 'restart';
}

export interface SettleOptions {
  /**
   * Also wait up to this many real milliseconds for records still unfinished, for work on real timers or I/O (an
   * operator without `scheduler: driver.scheduler`, a real HTTP call). Default 0: only microtasks and due timers.
   */
  realTimeoutMs?: number;
}

/** One running copy of a pipeline: a member of the pipeline's consumer group. */
export interface PipelineInstance {
  readonly pipeline: string;
  /** 1 for the instance the driver starts with, then 2, 3, … in the order they were added. */
  readonly instance: number;
  /** The supervisor's state (`running`, `restarting`, `stopped`, …). */
  readonly state: RunnerState;
  /** The partitions this instance owns now. */
  readonly assignment: readonly TopicPartition[];
  /** Partitions this instance paused (second line of backpressure). */
  readonly pausedPartitions: number;
  /** Records admitted and not finished. */
  readonly inFlight: number;
}

export interface TestDriver {
  /** The virtual clock: pass it as `scheduler` to `retryWithBackoff`, `sink` and any timed RxJS operator. */
  readonly scheduler: TestClock;
  /** The pipelines the driver runs. */
  readonly pipelines: readonly Pipeline<unknown>[];
  /** The in-memory Kafka the pipelines run on (topics, groups, send failures). */
  readonly kafka: MemoryKafka;
  /** Every log line the pipelines wrote, parsed (the engine's logger configuration, at `logLevel`). */
  readonly logs: LogLine[];
  /** The sink behind `logs` (`atLevel('warn')`, `clear()`). */
  readonly logSink: LogSink;
  /** The root logger (each pipeline logs through a child with `pipeline` and `groupId`). */
  readonly logger: Logger;
  /** Pipelines that crashed, oldest first. */
  readonly crashes: readonly PipelineCrash[];
  /** Virtual time, ms since the epoch. */
  now(): number;
  /** A topic to pipe records into (created on first use; `partitions` only before it holds records). */
  inputTopic(name: string, options?: { partitions?: number }): TestInputTopic;
  /** Reads a topic; values JSON-decoded, checked against `schema`. */
  outputTopic<S extends z.core.$ZodType>(
    name: string,
    options: SchemaOutputTopicOptions<S>,
  ): TestOutputTopic<z.output<S>>;
  /** Reads a topic; values as UTF-8 text (null for a tombstone). */
  outputTopic(name: string, options: { decode: 'string'; partitions?: number }): TestOutputTopic<string | null>;
  /** Reads a topic; values as bytes (null for a tombstone). */
  outputTopic(name: string, options: { decode: 'bytes'; partitions?: number }): TestOutputTopic<Buffer | null>;
  /** Reads a topic; values decoded by a function. */
  outputTopic<V>(name: string, options: { decode: ValueDecoder<V>; partitions?: number }): TestOutputTopic<V>;
  /** Reads a topic; values JSON-decoded (typed `V` unchecked, like `JSON.parse`; null for a tombstone). */
  outputTopic<V = unknown>(name: string, options?: { decode?: 'json'; partitions?: number }): TestOutputTopic<V>;
  /**
   * The dead-letter topic (default: the one the pipelines share), values as UTF-8 text; `readDeadLetters()` also
   * parses the `kafka_dlt-*` / `tributary-*` headers.
   */
  deadLetterTopic(topic?: string): TestDeadLetterTopic<string | null>;
  /** Every outcome so far, in the order records finished. */
  outcomes(filter?: { pipeline?: string; topic?: string }): RecordOutcome[];
  /**
   * Runs each instance's commit loop now (as its interval would) and returns every offset the groups committed
   * (next offset to read), by group, topic and partition.
   */
  committedOffsets(): CommittedOffset[];
  /** Per partition of `topic`, the offset a commit would leave the group at now. `pipeline` is needed when several consume it. */
  committable(topic: string, pipeline?: string): Map<number, bigint>;
  /** Records admitted and not finished, or in their topic and not admitted yet. */
  unfinished(): UnfinishedRecord[];
  /** Makes the broker refuse sends: per topic or partition, transient or permanent, once or N times. */
  failSends(failure?: SendFailure): SendFailureRule;
  /** The running instances (every pipeline's, or one pipeline's). */
  instances(pipeline?: string): PipelineInstance[];
  /**
   * Starts another instance of a pipeline in the same group: the group rebalances. Resolves once the driver settled:
   * the instance has joined (`state` `'running'`) unless the rebalance waits for virtual time — a member whose
   * `maxInFlight` window is full lets go of its batch at its next heartbeat, once a second — then `advanceTime`.
   */
  addInstance(pipeline?: string): Promise<PipelineInstance>;
  /**
   * Stops an instance: gracefully (drain, commit, leave the group) by default, or at once with `{ graceful: false }`
   * (no drain and no final commit, like a killed process). The group rebalances. Resolves once the driver settled; a
   * graceful stop whose records are still in flight drains for up to the pipeline's `drainTimeoutMs` of virtual time.
   */
  removeInstance(instance: PipelineInstance, options?: { graceful?: boolean }): Promise<void>;
  /** Lets asynchronous work finish at the current virtual time: microtasks and timers due now. */
  settle(options?: SettleOptions): Promise<void>;
  /**
   * `settle()`, then advances the clock timer by timer until nothing is left to do: no timer pending but the
   * engine's recurring ones (commit loop, watchdog) and either no record unfinished and no pipeline restarting, or a
   * minute of virtual time in which those recurring timers changed nothing. At most `maxTimeMs` (default 24 h).
   */
  flush(options?: { maxTimeMs?: number }): Promise<void>;
  /** Advances the virtual clock by `ms`, running each timer at its time and settling the work it starts. */
  advanceTime(ms: number): Promise<void>;
  /**
   * Restarts a pipeline (default: every crashed one, or the only one) from its committed offsets: a crashed one at
   * once, without waiting for its backoff; a running one by stopping it gracefully and starting it again. Resolves
   * once the driver settled (a stop that drains records still in flight waits for `advanceTime`).
   */
  restart(pipeline?: string): Promise<void>;
  /** Tears the pipelines down; the driver cannot be used afterwards. */
  close(): Promise<void>;
}
