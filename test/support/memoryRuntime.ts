/**
 * The engine's own runtime — `PipelineRunner`, `PipelineRun`, commit loop, parking — on the in-memory Kafka and a
 * `TestClock`, with nothing faked: for unit tests of supervision, fencing, commits and parking. Each runner gets its
 * own client view, so the test can tell its consumers and their commits apart; every record admitted into a chain is
 * listed as an `Admission` that the test finishes (`release()`) when it wants, or the chain fails on it.
 *
 * Time moves only through `advance`/`advanceTo` (timer by timer, settling after each); `settle` lets the work due
 * now finish (setImmediate turns and due timers), never waiting on real time.
 */
import pino from 'pino';
import { from, mergeMap, Observable, throwError } from 'rxjs';
import type { Element, Envelope, RawValue, RecordTicket } from '../../src/envelope.js';
import { type EngineObserver, noopObserver } from '../../src/instrumentation.js';
import type { KafkaClientPort, TopicPartitionOffset } from '../../src/kafka/ports.js';
import type { PipelineConfig } from '../../src/runtime/definePipeline.js';
import { definePipeline } from '../../src/runtime/definePipeline.js';
import { PipelineRunner } from '../../src/runtime/pipelineRunner.js';
import { ProducerBatcher } from '../../src/runtime/producerBatcher.js';
import type { MemoryConsumer } from '../../src/testing/memoryKafka/memoryConsumer.js';
import { createMemoryKafka, type MemoryKafka } from '../../src/testing/memoryKafka/memoryKafka.js';
import { TestClock } from '../../src/testing/testClock.js';

/**
 * What a chain does with a record it was handed: let it through at once, hold it until the test releases it, error
 * the chain at once, or error it after that many microtasks (as an `async` stage that throws does).
 */
export type Decision = 'pass' | 'hold' | 'fail' | { readonly failAfterMicrotasks: number };

/** One record admitted into one run's chain. */
export interface Admission {
  /** The runner's label (`runtime.runner(label, …)`). */
  readonly runner: string;
  /** 1 for the runner's first run, 2 after its first restart, … */
  readonly run: number;
  readonly partition: number;
  readonly offset: bigint;
  readonly value: string;
  readonly ticket: RecordTicket;
  /**
   * Lets a held record leave the chain (it finishes as `sunk`); a no-op once released, once its run is gone, and for
   * a record the chain failed on.
   */
  release(): void;
  released: boolean;
}

/** One call of a consumer's `commit`, in call order. */
export interface CommitCall {
  readonly runner: string;
  readonly memberId: string;
  readonly at: number;
  readonly offsets: readonly TopicPartitionOffset[];
}

export interface RunnerOptions {
  topics?: readonly string[];
  groupId?: string;
  /** Decides per admitted record; default: hold every record. */
  decide?: (admission: Omit<Admission, 'release' | 'released' | 'ticket'>) => Decision;
  config?: Partial<Omit<PipelineConfig<unknown>, 'build' | 'name' | 'source'>>;
}

export interface MemoryRuntime {
  readonly kafka: MemoryKafka;
  readonly clock: TestClock;
  readonly admissions: Admission[];
  readonly commits: CommitCall[];
  /** Every consumer a runner created, in creation order. */
  readonly consumers: { readonly runner: string; readonly consumer: MemoryConsumer }[];
  /** Names of the observer events heard, in order (`commitDone:ok`, `assigned`, …). */
  readonly events: string[];
  /** A runner of pipeline `label` (its own pipeline object, so its runs are counted apart), not started. */
  runner(label: string, options?: RunnerOptions): PipelineRunner;
  /** Chains built so far by `label`'s runner: one per run. */
  runs(label: string): number;
  /** Appends records to a partition; returns their offsets. */
  append(topic: string, partition: number, values: readonly string[]): bigint[];
  /** The admissions matching `filter`. */
  admitted(filter: { runner?: string; run?: number; partition?: number }): Admission[];
  /** The group's committed offset of a partition. */
  committed(groupId: string, topic: string, partition: number): bigint | undefined;
  settle(): Promise<void>;
  advance(ms: number): Promise<void>;
  advanceTo(time: number): Promise<void>;
  close(): Promise<void>;
}

const QUIET_ROUNDS = 3;
const MAX_ROUNDS = 100_000;
const macrotask = () => new Promise<void>((done) => setImmediate(done));

export async function memoryRuntime(): Promise<MemoryRuntime> {
  const clock = new TestClock();
  const kafka = createMemoryKafka({ now: () => clock.now() });
  const logger = pino({ level: 'silent' });
  const admissions: Admission[] = [];
  const commits: CommitCall[] = [];
  const consumers: MemoryRuntime['consumers'] = [];
  const events: string[] = [];
  const builds = new Map<string, number>();
  const runners: PipelineRunner[] = [];
  const observer = {} as Record<keyof EngineObserver, (...args: never[]) => void>;
  for (const name of Object.keys(noopObserver) as (keyof EngineObserver)[]) {
    observer[name] =
      name === 'commitDone'
        ? (...args: never[]) => events.push(`commitDone:${(args as unknown[])[2] ? 'ok' : 'failed'}`)
        : name === 'inFlight' || name === 'oldestUnfinished'
          ? () => {}
          : () => events.push(name);
  }
  const producerPort = kafka.producer();
  await producerPort.connect();
  const producer = new ProducerBatcher(producerPort, {
    observer: observer as unknown as EngineObserver,
    logger,
    clock,
  });
  let timersRun = 0;

  const progress = () => kafka.version + events.length + admissions.length + timersRun;

  const settle = async (): Promise<void> => {
    let quiet = 0;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const before = progress();
      await macrotask();
      timersRun += clock.runDue();
      quiet = progress() === before ? quiet + 1 : 0;
      if (quiet >= QUIET_ROUNDS) return;
    }
    throw new Error(`the runtime did not settle in ${MAX_ROUNDS} rounds`);
  };

  const advanceTo = async (time: number): Promise<void> => {
    await settle();
    for (;;) {
      const next = clock.nextTimerAt();
      if (next === undefined || next > time) break;
      clock.moveTo(next);
      timersRun += clock.runDue();
      await settle();
    }
    clock.moveTo(time);
    await settle();
  };

  const clientFor = (label: string): KafkaClientPort => ({
    consumer: (options) => {
      const consumer = kafka.consumer(options) as MemoryConsumer;
      const commit = consumer.commit.bind(consumer);
      consumer.commit = (offsets) => {
        commits.push({ runner: label, memberId: consumer.memberId, at: clock.now(), offsets: [...offsets] });
        return commit(offsets);
      };
      consumers.push({ runner: label, consumer });
      return consumer;
    },
    producer: () => kafka.producer(),
    admin: () => kafka.admin(),
  });

  const build =
    (label: string, decide: NonNullable<RunnerOptions['decide']>): PipelineConfig<unknown>['build'] =>
    (records) => {
      const run = (builds.get(label) ?? 0) + 1;
      builds.set(label, run);
      return records.pipe(
        mergeMap((envelope: Envelope<RawValue>) => {
          const { partition, offset } = envelope.origin;
          const value = envelope.value?.toString('utf8') ?? '';
          const decision = decide({ runner: label, run, partition, offset, value });
          if (decision !== 'pass' && decision !== 'hold') {
            admissions.push({
              runner: label,
              run,
              partition,
              offset,
              value,
              ticket: envelope.ticket,
              released: false,
              release: () => {},
            });
            const error = new Error(`${label} run ${run} fails on ${partition}/${offset} (${value})`);
            if (decision === 'fail') return throwError(() => error);
            return from(
              (async () => {
                for (let i = 0; i < decision.failAfterMicrotasks; i++) await null;
                throw error;
              })(),
            );
          }
          return new Observable<Element<unknown>>((subscriber) => {
            const admission: Admission = {
              runner: label,
              run,
              partition,
              offset,
              value,
              ticket: envelope.ticket,
              released: false,
              release() {
                if (admission.released) return;
                admission.released = true;
                subscriber.next(envelope);
                subscriber.complete();
              },
            };
            admissions.push(admission);
            if (decision === 'pass') admission.release();
          });
        }),
      );
    };

  return {
    kafka,
    clock,
    admissions,
    commits,
    consumers,
    events,
    runner(label, options = {}) {
      const { topics = ['in'], groupId = 'group', decide = () => 'hold', config = {} } = options;
      const pipeline = definePipeline<unknown>({
        name: 'memory-run',
        source: { topics, groupId },
        deadLetter: { topic: 'memory-run.dlq' },
        ordering: 'unordered',
        ...config,
        build: build(label, decide),
      });
      const runner = new PipelineRunner(pipeline, {
        client: clientFor(label),
        producer,
        logger,
        observer: observer as unknown as EngineObserver,
        clock,
      });
      runners.push(runner);
      return runner;
    },
    runs: (label) => builds.get(label) ?? 0,
    append(topic, partition, values) {
      return values.map((value) => kafka.append({ topic, partition, key: null, value: Buffer.from(value) }).offset);
    },
    admitted: (filter) =>
      admissions.filter(
        (a) =>
          (filter.runner === undefined || a.runner === filter.runner) &&
          (filter.run === undefined || a.run === filter.run) &&
          (filter.partition === undefined || a.partition === filter.partition),
      ),
    committed: (groupId, topic, partition) => kafka.group(groupId).committed(topic, partition),
    settle,
    advance: (ms) => advanceTo(clock.now() + ms),
    advanceTo,
    async close() {
      await Promise.allSettled(runners.map((r) => r.abort()));
      producer.close();
      await producerPort.disconnect();
      for (const action of clock.actions.splice(0)) action.unsubscribe();
    },
  };
}

/** The offsets of admissions, as numbers (readable failure messages). */
export const offsetsOf = (admissions: readonly Admission[]): number[] => admissions.map((a) => Number(a.offset));

/** The offsets a list of commit calls sent for one partition, in order. */
export const committedFor = (calls: readonly CommitCall[], partition: number, topic = 'in'): number[] =>
  calls.flatMap((c) =>
    c.offsets.filter((o) => o.topic === topic && o.partition === partition).map((o) => Number(o.offset)),
  );
