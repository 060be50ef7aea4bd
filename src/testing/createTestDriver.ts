/**
 * The test driver: runs pipelines' operator chains without a broker, like Kafka Streams' `TopologyTestDriver`.
 * Pipe records into named topics, read what the pipelines published (and dead-lettered, headers included), see
 * which offsets would be committed, and move a virtual clock for time-based operators.
 */
import type { LevelWithSilent, Logger } from 'pino';
import type * as z from 'zod';
import type { OutgoingRecord } from '../envelope.js';
import { errorMessage, TributaryError } from '../errors.js';
import { type EngineObserver, noopObserver } from '../instrumentation.js';
import type { OutgoingMessage } from '../kafka/ports.js';
import type { Pipeline } from '../runtime/definePipeline.js';
import { isPermanentSendError } from '../runtime/producerBatcher.js';
import { createSinkLogger, type LogLine, type LogSink, logSink } from './logSink.js';
import { createPartitionChooser } from './partitioner.js';
import {
  type CommittedOffset,
  crashError,
  type PipelineCrash,
  PipelineHarness,
  type RecordOutcome,
  type UnfinishedRecord,
} from './pipelineHarness.js';
import { TestClock } from './testClock.js';
import {
  decoderOf,
  encodeTestValue,
  type OutputTopicOptions,
  type RecordPosition,
  type SchemaOutputTopicOptions,
  type StoredRecord,
  schemaDecoder,
  TestDeadLetterTopic,
  type TestInputRecord,
  TestInputTopic,
  TestOutputTopic,
  TopicStore,
  textDecoder,
  type ValueDecoder,
} from './testTopics.js';

/** What a pipeline factory passed to {@link createTestDriver} receives. */
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
   * Called before each produced record is stored (outputs and dead letters). Throw or reject to simulate the broker:
   * an error with `retriable: false` is a permanent refusal (publish fails); any other is retried like the
   * engine's producer does, after 100 ms, 200 ms, ... up to 5 s of virtual time.
   */
  onSend?: (record: OutgoingRecord) => void | PromiseLike<void>;
  /**
   * When an operator chain errors: `'throw'` (default) makes the next `pipeInput`/`settle`/`advanceTime` throw
   * TRIBUTARY_ERR_PIPELINE_CRASHED (call `driver.restart()` to go on); `'restart'` restarts the pipeline from its
   * committed offsets at once, as the engine does (after a back-off).
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

export interface TestDriver {
  /** The virtual clock: pass it as `scheduler` to `retryWithBackoff`, `sink` and any timed RxJS operator. */
  readonly scheduler: TestClock;
  /** The pipelines the driver runs. */
  readonly pipelines: readonly Pipeline<unknown>[];
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
  /** Commits like the engine's commit loop and returns every committed offset (next offset to read). */
  committedOffsets(): CommittedOffset[];
  /** Per partition of `topic`, the offset a commit would write now. `pipeline` is needed when several consume it. */
  committable(topic: string, pipeline?: string): Map<number, bigint>;
  /** Records admitted and not finished, or waiting for admission. */
  unfinished(): UnfinishedRecord[];
  /** Lets asynchronous work finish at the current virtual time: microtasks and timers due now. */
  settle(options?: SettleOptions): Promise<void>;
  /** `settle()`, then advances the clock through every pending timer (at most `maxTimeMs`, default 24 h). */
  flush(options?: { maxTimeMs?: number }): Promise<void>;
  /** Advances the virtual clock by `ms`, running each timer at its time and settling the work it starts. */
  advanceTime(ms: number): Promise<void>;
  /** Restarts a pipeline (default: every crashed one, or the only one) from its committed offsets. */
  restart(pipeline?: string): void;
  /** Tears the pipelines down; the driver cannot be used afterwards. */
  close(): Promise<void>;
}

const MAX_SETTLE_ROUNDS = 100_000;
const QUIET_ROUNDS = 3;

const macrotask = () => new Promise<void>((done) => setImmediate(done));
const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

/**
 * Creates a test driver for one or several pipelines.
 *
 * Input records are delivered synchronously: a chain of synchronous stages has produced its outputs when
 * `pipeInput` returns. Asynchronous stages need `await driver.settle()`. Timed operators run on the driver's
 * virtual clock when given `scheduler: driver.scheduler` (a pipeline factory receives it): `advanceTime(ms)` runs
 * their timers. Promise-returning work (a stand-in for an HTTP call) still runs on real microtasks, which `settle`
 * and `advanceTime` wait for; real timers and I/O are waited for only with `settle({ realTimeoutMs })`.
 *
 * @example
 * ```ts
 * const driver = createTestDriver(({ scheduler }) => createTranscriptWorker({ transcribe, scheduler }));
 * driver.inputTopic('video.transcript.requested').pipeKeyValues([['v1', request]]);
 * await driver.settle();
 * expect(driver.outputTopic('video.embedding.requested').readValues()).toHaveLength(1);
 * ```
 * @param pipelines a pipeline, several pipelines, or a factory that receives the driver's clock
 * @param options partitions, clock, logging, producer failures, crash behaviour
 * @returns the driver
 */
export function createTestDriver(pipelines: TestDriverPipelines, options: TestDriverOptions = {}): TestDriver {
  const {
    defaultPartitions = 1,
    partitions = {},
    logLevel = 'debug',
    observer = noopObserver,
    onSend,
    onCrash = 'throw',
  } = options;
  const clock = options.scheduler ?? new TestClock(options.startTime);
  const sink = logSink();
  const logger = createSinkLogger(sink, logLevel);
  const chooser = createPartitionChooser();
  const outcomes: RecordOutcome[] = [];
  const crashes: PipelineCrash[] = [];
  const unreported: PipelineCrash[] = [];
  let harnesses: PipelineHarness[] = [];
  let progress = 0;
  let closed = false;

  const store = new TopicStore(
    chooser,
    () => clock.now(),
    defaultPartitions,
    (record: StoredRecord) => {
      progress++;
      for (const harness of harnesses) if (harness.consumes(record.topic)) harness.deliver(record);
    },
  );
  for (const [topic, count] of Object.entries(partitions)) store.declare(topic, count);

  const assertOpen = () => {
    if (closed) throw new Error('the test driver is closed');
  };

  /** The simulated shared producer: an "ack" is the record stored in its topic. */
  const send = async (record: OutgoingMessage): Promise<void> => {
    await Promise.resolve(); // acknowledged asynchronously, never inside the caller's stack
    let delay = 100;
    for (;;) {
      if (closed) {
        throw new TributaryError('TRIBUTARY_ERR_PUBLISH', 'the producer is closed', { retriable: true });
      }
      try {
        if (onSend) await onSend(record as OutgoingRecord);
        break;
      } catch (error) {
        observer.producerSent(1, 0, false);
        if (isPermanentSendError(error)) throw error;
        logger.warn(
          { err: error, records: 1, retryInMs: delay },
          `produce failed, re-sending the batch: ${errorMessage(error)}`,
        );
        await new Promise<void>((done) => clock.schedule(() => done(), delay));
        delay = Math.min(delay * 2, 5000);
      }
    }
    store.append({
      topic: record.topic,
      key: record.key,
      value: record.value,
      headers: record.headers,
      partition: record.partition,
    });
    observer.producerSent(1, 0, true);
  };

  const restartHarness = (harness: PipelineHarness) => {
    const index = unreported.findIndex((c) => c.pipeline === harness.pipeline.name);
    if (index >= 0) unreported.splice(index, 1);
    harness.restart();
  };

  const deps = {
    clock,
    logger,
    observer,
    store,
    send,
    progress: () => {
      progress++;
    },
    outcome: (outcome: RecordOutcome) => {
      outcomes.push(outcome);
    },
    crashed: (crash: PipelineCrash) => {
      crashes.push(crash);
      if (onCrash === 'restart') {
        queueMicrotask(() => {
          const harness = harnesses.find((h) => h.pipeline.name === crash.pipeline);
          if (harness && !closed && harness.state === 'crashed') harness.restart();
        });
      } else {
        unreported.push(crash);
      }
    },
  };

  const resolved =
    typeof pipelines === 'function' ? pipelines({ scheduler: clock, now: () => clock.now() }) : pipelines;
  const list: readonly Pipeline<unknown>[] = Array.isArray(resolved)
    ? (resolved as readonly Pipeline<unknown>[])
    : [resolved as Pipeline<unknown>];
  if (list.length === 0) throw new TypeError('createTestDriver: no pipeline given');
  const names = new Set<string>();
  for (const p of list) {
    if (p?.kind !== 'tributary.pipeline') {
      throw new TypeError('createTestDriver: expected pipelines made with definePipeline()');
    }
    if (names.has(p.name)) throw new Error(`two pipelines are named "${p.name}"; names must be unique`);
    names.add(p.name);
  }
  harnesses = list.map((p) => new PipelineHarness(p, deps));

  const throwCrashes = () => {
    const crash = unreported.shift();
    if (crash) throw crashError(crash);
  };

  const harnessFor = (name: string): PipelineHarness => {
    const harness = harnesses.find((h) => h.pipeline.name === name);
    if (!harness) throw new Error(`no pipeline named "${name}" (have: ${[...names].join(', ')})`);
    return harness;
  };

  const unfinishedCount = () => harnesses.reduce((n, h) => n + h.unfinished().length, 0);

  const settle = async (settleOptions: SettleOptions = {}): Promise<void> => {
    assertOpen();
    const deadline = Date.now() + (settleOptions.realTimeoutMs ?? 0);
    let quiet = 0;
    for (let round = 0; round < MAX_SETTLE_ROUNDS; round++) {
      const before = progress;
      await macrotask();
      progress += clock.runDue();
      throwCrashes();
      quiet = progress === before ? quiet + 1 : 0;
      if (quiet >= QUIET_ROUNDS) {
        if (unfinishedCount() === 0 || Date.now() >= deadline) return;
        await sleep(1);
      }
    }
    throw new Error(`the pipelines did not settle after ${MAX_SETTLE_ROUNDS} rounds (a loop between topics?)`);
  };

  const advanceTo = async (target: number): Promise<void> => {
    await settle();
    for (;;) {
      const next = clock.nextTimerAt();
      if (next === undefined || next > target) break;
      clock.moveTo(next);
      progress += clock.runDue();
      await settle();
    }
    clock.moveTo(target);
    await settle();
  };

  const pipe = (topic: string, record: TestInputRecord): RecordPosition => {
    assertOpen();
    throwCrashes();
    const stored = store.append({
      topic,
      key: record.key ?? null,
      value: encodeTestValue(record.value),
      headers: record.headers,
      partition: record.partition,
      timestamp: record.timestamp,
    });
    throwCrashes();
    return { topic: stored.topic, partition: stored.partition, offset: stored.offset };
  };

  function outputTopic(
    name: string,
    topicOptions: OutputTopicOptions<unknown> | SchemaOutputTopicOptions<z.core.$ZodType> = {},
  ): TestOutputTopic<unknown> {
    assertOpen();
    const log = store.declare(name, topicOptions.partitions);
    const decode: ValueDecoder<unknown> =
      'schema' in topicOptions ? schemaDecoder(topicOptions.schema) : decoderOf(topicOptions.decode);
    return new TestOutputTopic(log, decode);
  }

  const driver: TestDriver = {
    scheduler: clock,
    pipelines: list,
    logs: sink.lines,
    logSink: sink,
    logger,
    crashes,
    now: () => clock.now(),
    inputTopic(name, topicOptions = {}) {
      assertOpen();
      store.declare(name, topicOptions.partitions);
      return new TestInputTopic(name, pipe);
    },
    outputTopic: outputTopic as TestDriver['outputTopic'],
    deadLetterTopic(topic) {
      assertOpen();
      let name = topic;
      if (name === undefined) {
        const topics = [...new Set(list.map((p) => p.deadLetter.topic))];
        if (topics.length !== 1) {
          throw new Error(`the pipelines use several dead-letter topics (${topics.join(', ')}); name one`);
        }
        name = topics[0] as string;
      }
      return new TestDeadLetterTopic(store.declare(name), textDecoder);
    },
    outcomes(filter = {}) {
      return outcomes.filter(
        (o) =>
          (filter.pipeline === undefined || o.pipeline === filter.pipeline) &&
          (filter.topic === undefined || o.topic === filter.topic),
      );
    },
    committedOffsets() {
      return harnesses.flatMap((h) => h.commit());
    },
    committable(topic, pipeline) {
      if (pipeline !== undefined) return harnessFor(pipeline).committable(topic);
      const consumers = harnesses.filter((h) => h.consumes(topic));
      if (consumers.length !== 1) {
        throw new Error(
          consumers.length === 0
            ? `no pipeline consumes ${topic}`
            : `several pipelines consume ${topic} (${consumers.map((h) => h.pipeline.name).join(', ')}); name one`,
        );
      }
      return (consumers[0] as PipelineHarness).committable(topic);
    },
    unfinished() {
      return harnesses.flatMap((h) => h.unfinished());
    },
    settle,
    async flush(flushOptions = {}) {
      const limit = clock.now() + (flushOptions.maxTimeMs ?? 24 * 60 * 60 * 1000);
      await settle();
      for (;;) {
        const next = clock.nextTimerAt();
        if (next === undefined || next > limit) break;
        await advanceTo(next);
      }
    },
    async advanceTime(ms) {
      assertOpen();
      if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`advanceTime: ms must be >= 0, got ${ms}`);
      await advanceTo(clock.now() + ms);
    },
    restart(pipeline) {
      assertOpen();
      if (pipeline !== undefined) {
        restartHarness(harnessFor(pipeline));
        return;
      }
      const crashed = harnesses.filter((h) => h.state === 'crashed');
      if (crashed.length > 0) {
        for (const h of crashed) restartHarness(h);
        return;
      }
      if (harnesses.length !== 1) throw new Error('several pipelines run and none crashed; name the one to restart');
      restartHarness(harnesses[0] as PipelineHarness);
    },
    async close() {
      if (closed) return;
      for (const h of harnesses) h.close();
      closed = true;
      clock.actions.splice(0).forEach((action) => {
        action.unsubscribe();
      });
    },
  };
  return driver;
}
