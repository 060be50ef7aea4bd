/**
 * The test driver: runs pipelines on the engine's own runtime — `PipelineRunner`, `PipelineRun`, the shared
 * `ProducerBatcher`, commit loop and dead-letter writer — against an in-memory Kafka on a virtual clock. Pipe records
 * into topics, read what the pipelines published (and dead-lettered, headers included), see what the groups
 * committed, move the clock for time-based operators and for the engine's own timers (commit interval, crash backoff,
 * producer retries), make sends fail, and run several instances of a pipeline in one group to test a rebalance.
 */
import type * as z from 'zod';
import { errorMessage, TributaryError } from '../errors.js';
import { type EngineObserver, noopObserver } from '../instrumentation.js';
import type { OutgoingRecord, ProducerPort } from '../kafka/ports.js';
import type { Pipeline } from '../runtime/definePipeline.js';
import { PipelineRunner, type RunnerDeps, type RunnerState } from '../runtime/pipelineRunner.js';
import { ProducerBatcher } from '../runtime/producerBatcher.js';
import type { CommittedOffset, PipelineCrash, RecordOutcome, UnfinishedRecord } from './driverReports.js';
import { createSinkLogger, logSink } from './logSink.js';
import { createMemoryKafka } from './memoryKafka/memoryKafka.js';
import { TestClock } from './testClock.js';
import type {
  PipelineInstance,
  SettleOptions,
  TestDriver,
  TestDriverOptions,
  TestDriverPipelines,
} from './testDriver.js';
import {
  decoderOf,
  encodeTestValue,
  type OutputTopicOptions,
  type RecordPosition,
  type SchemaOutputTopicOptions,
  schemaDecoder,
  TestDeadLetterTopic,
  type TestInputRecord,
  TestInputTopic,
  TestOutputTopic,
  textDecoder,
  type ValueDecoder,
} from './testTopics.js';

export type {
  PipelineInstance,
  SettleOptions,
  TestDriver,
  TestDriverOptions,
  TestDriverPipelines,
  TestDriverTools,
} from './testDriver.js';

const MAX_SETTLE_ROUNDS = 100_000;
const QUIET_ROUNDS = 3;
/** flush() stops once only the engine's recurring timers are left and they did nothing for this long. */
const FLUSH_IDLE_MS = 60_000;
/** Gauges the engine reports on every commit round or watchdog tick: not progress. */
const PERIODIC_EVENTS: ReadonlySet<string> = new Set(['inFlight', 'oldestUnfinished']);

const macrotask = () => new Promise<void>((done) => setImmediate(done));
const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

interface Instance {
  readonly pipeline: Pipeline<unknown>;
  readonly instance: number;
  runner: PipelineRunner;
  readonly view: PipelineInstance;
}

/**
 * Creates a test driver for one or several pipelines.
 *
 * The pipelines start at once on an in-memory Kafka: each joins its consumer group and reads its topics from the
 * beginning. Records piped in are fetched and processed asynchronously, as on a broker: `await driver.settle()` before
 * reading outputs. Timed operators run on the driver's virtual clock when given `scheduler: driver.scheduler` (a
 * pipeline factory receives it); the engine's own timers always do. `advanceTime(ms)` runs them all.
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
  const { defaultPartitions = 1, partitions = {}, logLevel = 'debug', onCrash = 'throw' } = options;
  const { onSend } = options;
  const clock = options.scheduler ?? new TestClock(options.startTime);
  const sink = logSink();
  const logger = createSinkLogger(sink, logLevel);
  const kafka = createMemoryKafka({
    now: () => clock.now(),
    autoCreateTopics: true,
    defaultPartitions,
    ...(onSend ? { beforeWrite: (record) => onSend(record as OutgoingRecord) } : {}),
  });
  let progress = 0;
  // every engine event, write, commit and log line is progress: settle() waits until none comes for a few rounds
  const observer = countingObserver(options.observer ?? noopObserver, () => {
    progress++;
  });
  const outcomes: RecordOutcome[] = [];
  const crashes: PipelineCrash[] = [];
  const unreported: PipelineCrash[] = [];
  const instances: Instance[] = [];
  const pending = new Set<Promise<unknown>>();
  let closed = false;

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

  for (const [topic, count] of Object.entries(partitions)) kafka.createTopic(topic, count);
  for (const p of list) {
    for (const topic of p.source.topics) kafka.createTopic(topic);
    kafka.createTopic(p.deadLetter.topic);
  }

  const producerPort: ProducerPort = kafka.producer();
  const batcher = new ProducerBatcher(producerPort, { observer, logger, clock });
  const deps: RunnerDeps = {
    client: kafka,
    producer: batcher,
    logger,
    observer,
    clock,
    finished: (pipeline, entry, outcome, durationMs) => {
      progress++;
      outcomes.push({
        pipeline,
        topic: entry.tracker.topic,
        partition: entry.tracker.partition,
        offset: entry.offset,
        outcome,
        durationMs,
      });
    },
    crashed: (pipeline, error) => {
      progress++;
      const crash: PipelineCrash = { pipeline, error, at: clock.now() };
      crashes.push(crash);
      if (onCrash === 'throw') unreported.push(crash);
    },
  };

  /** A start or stop the driver ran that failed: thrown from the next settle. */
  const failures: unknown[] = [];
  /** Work the driver started and must see finish (a start, a stop): settle waits for it and throws its failure. */
  const track = (work: Promise<unknown>): void => {
    const tracked = work.finally(() => pending.delete(tracked));
    pending.add(tracked);
    tracked.catch((error: unknown) => failures.push(error));
  };

  const startInstance = (pipeline: Pipeline<unknown>, number: number): Instance => {
    // the driver reads input topics from their beginning, so records piped before a group joined are consumed
    const readFromStart: Pipeline<unknown> = { ...pipeline, source: { ...pipeline.source, fromBeginning: true } };
    const entry: Instance = {
      pipeline,
      instance: number,
      runner: new PipelineRunner(readFromStart, deps),
      view: {
        pipeline: pipeline.name,
        instance: number,
        get state() {
          return entry.runner.state;
        },
        get assignment() {
          return entry.runner.assignment;
        },
        get pausedPartitions() {
          return entry.runner.pausedPartitions;
        },
        get inFlight() {
          return entry.runner.inFlight;
        },
      },
    };
    return entry;
  };

  const started = (async () => {
    await producerPort.connect();
    for (const p of list) {
      const entry = startInstance(p, 1);
      instances.push(entry);
      await entry.runner.start();
    }
  })();
  track(started);

  const assertOpen = () => {
    if (closed) throw new Error('the test driver is closed');
  };

  const throwCrashes = () => {
    const crash = unreported.shift();
    if (crash) throw crashError(crash);
  };

  const pipelineNamed = (name: string | undefined): Pipeline<unknown> => {
    if (name === undefined) {
      if (list.length !== 1) throw new Error(`several pipelines run (${[...names].join(', ')}); name one`);
      return list[0] as Pipeline<unknown>;
    }
    const pipeline = list.find((p) => p.name === name);
    if (!pipeline) throw new Error(`no pipeline named "${name}" (have: ${[...names].join(', ')})`);
    return pipeline;
  };

  const live = (name?: string) =>
    instances.filter((i) => (name === undefined || i.pipeline.name === name) && isLive(i.runner.state));

  const unfinished = (): UnfinishedRecord[] => {
    const result: UnfinishedRecord[] = [];
    for (const p of list) {
      const held = new Map<string, bigint>(); // per partition: the highest offset an instance holds
      for (const entry of live(p.name)) {
        for (const u of entry.runner.unfinished()) {
          result.push({ pipeline: p.name, topic: u.topic, partition: u.partition, offset: u.offset, state: u.state });
          const k = `${u.topic}\u0000${u.partition}`;
          if ((held.get(k) ?? -1n) < u.offset) held.set(k, u.offset);
        }
      }
      const group = kafka.group(p.source.groupId);
      for (const topic of p.source.topics) {
        const log = kafka.topic(topic);
        if (log === undefined) continue;
        log.logs.forEach((records, partition) => {
          const owner = group.members.find((m) => m.position(topic, partition) !== undefined);
          const position = owner?.position(topic, partition) ?? group.committed(topic, partition) ?? 0n;
          const heldUpTo = held.get(`${topic}\u0000${partition}`);
          const from = heldUpTo !== undefined && heldUpTo + 1n > position ? heldUpTo + 1n : position;
          for (let offset = from; offset < BigInt(records.length); offset++) {
            result.push({ pipeline: p.name, topic, partition, offset, state: 'waiting' });
          }
        });
      }
    }
    return result;
  };

  const busy = () =>
    pending.size > 0 ||
    unfinished().length > 0 ||
    instances.some((i) => i.runner.state === 'restarting' || i.runner.state === 'starting');

  const settle = async (settleOptions: SettleOptions = {}): Promise<void> => {
    assertOpen();
    const deadline = Date.now() + (settleOptions.realTimeoutMs ?? 0);
    let quiet = 0;
    for (let round = 0; round < MAX_SETTLE_ROUNDS; round++) {
      const before = progress + kafka.version + sink.lines.length;
      await macrotask();
      progress += clock.runDue();
      throwCrashes();
      quiet = progress + kafka.version + sink.lines.length === before ? quiet + 1 : 0;
      if (quiet >= QUIET_ROUNDS) {
        // what is left may wait for virtual time (a backoff, a drain, a retry): the caller advances the clock
        if ((pending.size === 0 && unfinished().length === 0) || Date.now() >= deadline) break;
        await sleep(1);
      }
      if (round === MAX_SETTLE_ROUNDS - 1) {
        throw new Error(`the pipelines did not settle after ${MAX_SETTLE_ROUNDS} rounds (a loop between topics?)`);
      }
    }
    const failure = failures.shift();
    if (failure !== undefined) throw failure;
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
    const stored = kafka.append({
      topic,
      key: record.key ?? null,
      value: encodeTestValue(record.value),
      headers: record.headers,
      partition: record.partition,
      timestamp: record.timestamp,
    });
    return { topic: stored.topic, partition: stored.partition, offset: stored.offset };
  };

  function outputTopic(
    name: string,
    topicOptions: OutputTopicOptions<unknown> | SchemaOutputTopicOptions<z.core.$ZodType> = {},
  ): TestOutputTopic<unknown> {
    assertOpen();
    const log = kafka.createTopic(name, topicOptions.partitions, { resize: true });
    const decode: ValueDecoder<unknown> =
      'schema' in topicOptions ? schemaDecoder(topicOptions.schema) : decoderOf(topicOptions.decode);
    return new TestOutputTopic(log, decode);
  }

  const committedOffsets = (): CommittedOffset[] => {
    for (const entry of live()) entry.runner.commitNow().catch(() => {}); // commitNow never rejects
    const result: CommittedOffset[] = [];
    for (const p of list) {
      const group = kafka.group(p.source.groupId);
      for (const topic of p.source.topics) {
        if (kafka.topic(topic) === undefined) continue;
        for (const [partition, offset] of group.committedOffsets(topic)) {
          result.push({ pipeline: p.name, groupId: p.source.groupId, topic, partition, offset });
        }
      }
    }
    const order = (x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0);
    return result.sort((a, b) => order(a.groupId, b.groupId) || order(a.topic, b.topic) || a.partition - b.partition);
  };

  const committable = (topic: string, pipelineName?: string): Map<number, bigint> => {
    let pipeline: Pipeline<unknown>;
    if (pipelineName !== undefined) pipeline = pipelineNamed(pipelineName);
    else {
      const consumers = list.filter((p) => p.source.topics.includes(topic));
      if (consumers.length !== 1) {
        throw new Error(
          consumers.length === 0
            ? `no pipeline consumes ${topic}`
            : `several pipelines consume ${topic} (${consumers.map((p) => p.name).join(', ')}); name one`,
        );
      }
      pipeline = consumers[0] as Pipeline<unknown>;
    }
    const result = new Map(kafka.group(pipeline.source.groupId).committedOffsets(topic));
    for (const entry of live(pipeline.name)) {
      for (const tpo of entry.runner.committable()) {
        if (tpo.topic === topic) result.set(tpo.partition, tpo.offset);
      }
    }
    return new Map([...result].sort(([a], [b]) => a - b));
  };

  const stopInstance = async (entry: Instance, graceful: boolean): Promise<void> => {
    if (graceful) await entry.runner.stop();
    else await entry.runner.abort();
  };

  const driver: TestDriver = {
    scheduler: clock,
    pipelines: list,
    kafka,
    logs: sink.lines,
    logSink: sink,
    logger,
    crashes,
    now: () => clock.now(),
    inputTopic(name, topicOptions = {}) {
      assertOpen();
      kafka.createTopic(name, topicOptions.partitions, { resize: true });
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
      return new TestDeadLetterTopic(kafka.createTopic(name), textDecoder);
    },
    outcomes(filter = {}) {
      return outcomes.filter(
        (o) =>
          (filter.pipeline === undefined || o.pipeline === filter.pipeline) &&
          (filter.topic === undefined || o.topic === filter.topic),
      );
    },
    committedOffsets,
    committable,
    unfinished,
    failSends(failure = {}) {
      assertOpen();
      return kafka.failSends(failure);
    },
    instances(pipeline) {
      return live(pipeline).map((i) => i.view);
    },
    async addInstance(pipeline) {
      assertOpen();
      await started;
      const p = pipelineNamed(pipeline);
      const number = Math.max(0, ...instances.filter((i) => i.pipeline === p).map((i) => i.instance)) + 1;
      const entry = startInstance(p, number);
      instances.push(entry);
      track(entry.runner.start());
      // the join waits for every member to let go of its batch in hand, which may take virtual time (a member whose
      // window is full heartbeats once a second): settle, and leave the rest to advanceTime
      await settle();
      return entry.view;
    },
    async removeInstance(instance, removeOptions = {}) {
      assertOpen();
      const entry = instances.find((i) => i.view === instance);
      if (entry === undefined) throw new Error('removeInstance: not an instance of this driver');
      track(stopInstance(entry, removeOptions.graceful ?? true));
      // a graceful stop drains for up to the pipeline's drainTimeoutMs of virtual time: settle, and leave the rest to
      // advanceTime
      await settle();
    },
    settle,
    async flush(flushOptions = {}) {
      const limit = clock.now() + (flushOptions.maxTimeMs ?? 24 * 60 * 60 * 1000);
      await settle();
      let seen = progress + kafka.version;
      let lastProgressAt = clock.now();
      for (;;) {
        const oneShot = clock.nextTimerAt({ oneShot: true });
        // with work left, the engine's recurring timers count too (a commit, the watchdog finding a dropped record),
        // until they have done nothing for a while
        const idleFor = clock.now() - lastProgressAt;
        const next = busy() && (oneShot !== undefined || idleFor < FLUSH_IDLE_MS) ? clock.nextTimerAt() : oneShot;
        if (next === undefined || next > limit) break;
        await advanceTo(next);
        if (progress + kafka.version !== seen) {
          seen = progress + kafka.version;
          lastProgressAt = clock.now();
        }
      }
    },
    async advanceTime(ms) {
      assertOpen();
      if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`advanceTime: ms must be >= 0, got ${ms}`);
      await advanceTo(clock.now() + ms);
    },
    async restart(pipeline) {
      assertOpen();
      unreported.length = 0;
      const chosen = pipeline === undefined ? undefined : pipelineNamed(pipeline).name;
      const crashed = live(chosen).filter((i) => i.runner.state === 'restarting');
      if (crashed.length > 0) {
        for (const entry of crashed) entry.runner.restartNow();
        await settle();
        return;
      }
      const targets = live(chosen ?? pipelineNamed(undefined).name);
      // a graceful stop drains for up to drainTimeoutMs of virtual time: settle, and leave the rest to advanceTime
      track(
        Promise.all(
          targets.map(async (entry) => {
            await entry.runner.stop();
            entry.runner = startInstance(entry.pipeline, entry.instance).runner;
            await entry.runner.start();
          }),
        ),
      );
      await settle();
    },
    async close() {
      if (closed) return;
      closed = true;
      await started.catch(() => {});
      await Promise.allSettled(instances.map((i) => i.runner.abort()));
      batcher.close();
      await producerPort.disconnect();
      for (const action of clock.actions.splice(0)) action.unsubscribe();
    },
  };

  return driver;
}

/** The observer, also calling `progress` on every event. */
function countingObserver(observer: EngineObserver, progress: () => void): EngineObserver {
  const counting = {} as Record<keyof EngineObserver, (...args: never[]) => void>;
  for (const name of Object.keys(noopObserver) as (keyof EngineObserver)[]) {
    const method = observer[name] as (...args: never[]) => void;
    counting[name] = PERIODIC_EVENTS.has(name)
      ? (...args: never[]) => method.apply(observer, args)
      : (...args: never[]) => {
          progress();
          method.apply(observer, args);
        };
  }
  return counting as unknown as EngineObserver;
}

function isLive(state: RunnerState): boolean {
  return state !== 'stopped' && state !== 'failed' && state !== 'completed' && state !== 'idle';
}

/** The error `settle()` rejects with when a pipeline crashed. */
export function crashError(crash: PipelineCrash): TributaryError {
  return new TributaryError(
    'TRIBUTARY_ERR_PIPELINE_CRASHED',
    `pipeline ${crash.pipeline} crashed: ${errorMessage(crash.error)} (the engine restarts it from the committed offsets after its backoff; advance the clock, or call driver.restart() to restart at once, or create the driver with onCrash: 'restart' to only record crashes)`,
    { cause: crash.error },
  );
}
