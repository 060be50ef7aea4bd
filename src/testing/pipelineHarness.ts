/**
 * Runs one pipeline's operator chain inside the test driver the way `PipelineRunner` runs it against a broker:
 * the same envelopes (origin, correlation id from the `correlation-id` header, ordering lane per mode), a real
 * `PartitionTracker` and tickets per partition, the admission limit (`maxInFlight`), the end of the chain (ok → the
 * outcome a stage settled it with, else `sunk`; failed → the dead-letter topic, in `buildDeadLetterRecord`'s format)
 * and a crash → restart from the committed offsets. Only the consumer, the producer and the clock are simulated.
 */
import type { Logger } from 'pino';
import { Subject, type Subscription } from 'rxjs';
import type { Element, Envelope, FailedEnvelope, Outcome, PipelineContext, RawValue } from '../envelope.js';
import { errorMessage, TributaryError } from '../errors.js';
import type { EngineObserver } from '../instrumentation.js';
import type { OutgoingMessage } from '../kafka/ports.js';
import { type AdmittedOffset, PartitionTracker, type TrackedTicket } from '../offsets/partitionTracker.js';
import { writeDeadLetter } from '../runtime/deadLetterWriter.js';
import type { Pipeline } from '../runtime/definePipeline.js';
import { finishAtEndOfChain } from '../runtime/endOfChain.js';
import type { TestClock } from './testClock.js';
import type { RecordPosition, StoredRecord, TopicStore } from './testTopics.js';

/** How a record finished, as the driver saw it. */
export interface RecordOutcome extends RecordPosition {
  readonly pipeline: string;
  readonly outcome: Outcome;
  /** Virtual milliseconds from admission to the outcome. */
  readonly durationMs: number;
}

/** The offset a pipeline's group would have committed for a partition (the next offset to read). */
export interface CommittedOffset extends RecordPosition {
  readonly pipeline: string;
  readonly groupId: string;
}

/** A record admitted and not finished yet, or waiting for admission (the pipeline is at `maxInFlight`). */
export interface UnfinishedRecord extends RecordPosition {
  readonly pipeline: string;
  readonly state: 'in-flight' | 'waiting';
}

/** The operator chain errored (or completed): what the engine would log before restarting the pipeline. */
export interface PipelineCrash {
  readonly pipeline: string;
  readonly error: unknown;
  /** Virtual time of the crash. */
  readonly at: number;
}

export interface HarnessDeps {
  readonly clock: TestClock;
  readonly logger: Logger;
  readonly observer: EngineObserver;
  readonly store: TopicStore;
  /** The simulated shared producer: resolves once the record is stored (the broker "acknowledged" it). */
  send(record: OutgoingMessage): Promise<void>;
  /** Something happened (used to detect when work has settled). */
  progress(): void;
  outcome(outcome: RecordOutcome): void;
  crashed(crash: PipelineCrash): void;
}

const tpKey = (topic: string, partition: number) => `${topic}\u0000${partition}`;

export { laneFor } from '../source/recordEnvelope.js';

import { recordEnvelope } from '../source/recordEnvelope.js';

export type HarnessState = 'running' | 'crashed' | 'closed';

export class PipelineHarness {
  readonly pipeline: Pipeline<unknown>;
  readonly context: PipelineContext;
  readonly #deps: HarnessDeps;
  readonly #log: Logger;
  #state: HarnessState = 'running';
  #run = 0;
  #trackers = new Map<string, PartitionTracker>();
  /** The group's committed offsets; they survive restarts, like the broker's. */
  readonly #committed = new Map<string, CommittedOffset>();
  #input: Subject<Envelope<RawValue>> | undefined;
  #chain: Subscription | undefined;
  #inFlight = new Set<AdmittedOffset>();
  #waiting: StoredRecord[] = [];
  #drainScheduled = false;

  constructor(pipeline: Pipeline<unknown>, deps: HarnessDeps) {
    this.pipeline = pipeline;
    this.#deps = deps;
    this.#log = deps.logger.child({ pipeline: pipeline.name, groupId: pipeline.source.groupId });
    this.context = {
      pipeline: pipeline.name,
      groupId: pipeline.source.groupId,
      deadLetterTopic: pipeline.deadLetter.topic,
      logger: this.#log,
      send: (record) => deps.send(record),
      enqueue: (record, done) => {
        deps.send(record).then(
          () => done(),
          (error: unknown) => done(error ?? new Error('send failed')),
        );
      },
      deadLetter: (failed, topic) => this.#deadLetter(failed, topic ?? pipeline.deadLetter.topic),
      recordRetry: (stage) => {
        deps.progress();
        deps.observer.retried(pipeline.name, stage);
      },
    };
    for (const topic of pipeline.source.topics) deps.store.declare(topic);
    deps.store.declare(pipeline.deadLetter.topic);
    this.#start();
  }

  get state(): HarnessState {
    return this.#state;
  }

  get inFlight(): number {
    return this.#inFlight.size;
  }

  consumes(topic: string): boolean {
    return this.pipeline.source.topics.includes(topic);
  }

  /** A record was appended to a topic this pipeline consumes. */
  deliver(record: StoredRecord): void {
    if (this.#state !== 'running') return; // a restart re-reads from the committed offsets
    if (this.#waiting.length > 0 || this.#inFlight.size >= this.pipeline.maxInFlight) {
      this.#waiting.push(record);
      return;
    }
    this.#admit(record);
  }

  /** Commits every partition's committable offset (what the engine's commit loop does) and returns them all. */
  commit(): CommittedOffset[] {
    for (const tracker of this.#trackers.values()) {
      const offset = tracker.committable();
      if (offset === undefined) continue;
      tracker.markCommitted(offset);
      this.#committed.set(tpKey(tracker.topic, tracker.partition), {
        pipeline: this.pipeline.name,
        groupId: this.pipeline.source.groupId,
        topic: tracker.topic,
        partition: tracker.partition,
        offset,
      });
      this.#deps.observer.offsetCommitted(
        this.pipeline.name,
        this.pipeline.source.groupId,
        tracker.topic,
        tracker.partition,
        offset,
      );
    }
    return [...this.#committed.values()].sort((a, b) =>
      a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1,
    );
  }

  /** Per partition of `topic`: the offset a commit would write now (committed or committable, whichever is later). */
  committable(topic: string): Map<number, bigint> {
    const result = new Map<number, bigint>();
    for (const c of this.#committed.values()) if (c.topic === topic) result.set(c.partition, c.offset);
    for (const tracker of this.#trackers.values()) {
      if (tracker.topic !== topic) continue;
      const offset = tracker.committable();
      if (offset !== undefined) result.set(tracker.partition, offset);
    }
    return new Map([...result].sort(([a], [b]) => a - b));
  }

  unfinished(): UnfinishedRecord[] {
    const name = this.pipeline.name;
    const inFlight = [...this.#inFlight].map((t) => ({
      pipeline: name,
      topic: t.tracker.topic,
      partition: t.tracker.partition,
      offset: t.offset,
      state: 'in-flight' as const,
    }));
    const waiting = this.#waiting.map((r) => ({
      pipeline: name,
      topic: r.topic,
      partition: r.partition,
      offset: r.offset,
      state: 'waiting' as const,
    }));
    return [...inFlight, ...waiting];
  }

  /**
   * What the engine does after a crash: commit what is finished, fence the old run (its late completions are
   * never committed), build the chain again and re-read every partition from its committed offset. Records that
   * finished after the lowest unfinished one are delivered again (at-least-once).
   */
  restart(): void {
    if (this.#state === 'closed') throw new Error(`pipeline ${this.pipeline.name} is closed`);
    this.commit();
    this.#teardown();
    this.#start();
    this.#log.info('pipeline restarted from committed offsets');
    for (const topic of this.pipeline.source.topics) {
      const log = this.#deps.store.get(topic);
      if (!log) continue;
      for (const record of log.appended) {
        const committed = this.#committed.get(tpKey(record.topic, record.partition))?.offset ?? 0n;
        if (record.offset >= committed) this.deliver(record);
      }
    }
  }

  close(): void {
    if (this.#state === 'closed') return;
    this.#teardown();
    this.#state = 'closed';
  }

  #start(): void {
    const run = ++this.#run;
    this.#state = 'running';
    this.#trackers = new Map();
    this.#inFlight = new Set();
    this.#waiting = [];
    const input = new Subject<Envelope<RawValue>>();
    this.#input = input;
    this.#chain = this.pipeline.build(input.asObservable()).subscribe({
      next: (element) => this.#endOfChain(element),
      error: (error: unknown) => this.#crash(run, error),
      complete: () => {
        if (run === this.#run && this.#state === 'running') {
          this.#crash(run, new Error('the operator chain completed while the pipeline was running'));
        }
      },
    });
  }

  #teardown(): void {
    for (const tracker of this.#trackers.values()) tracker.revoke();
    const chain = this.#chain;
    const input = this.#input;
    this.#chain = undefined;
    this.#input = undefined;
    this.#run++; // fences late completions and the chain's own teardown
    chain?.unsubscribe();
    input?.complete();
    this.#inFlight = new Set();
    this.#waiting = [];
    this.#deps.observer.released(this.pipeline.name, this.pipeline.source.groupId);
  }

  #crash(run: number, error: unknown): void {
    if (run !== this.#run || this.#state !== 'running') return;
    this.#state = 'crashed';
    this.#log.error({ err: error, code: 'TRIBUTARY_ERR_PIPELINE_CRASHED' }, `pipeline crashed: ${errorMessage(error)}`);
    this.#deps.progress();
    this.#deps.crashed({ pipeline: this.pipeline.name, error, at: this.#deps.clock.now() });
  }

  #tracker(topic: string, partition: number): PartitionTracker {
    const key = tpKey(topic, partition);
    let tracker = this.#trackers.get(key);
    if (tracker === undefined) {
      tracker = new PartitionTracker(topic, partition);
      this.#trackers.set(key, tracker);
    }
    return tracker;
  }

  #admit(record: StoredRecord): void {
    const input = this.#input;
    if (!input) return;
    const tracker = this.#tracker(record.topic, record.partition);
    if (!tracker.accepts(record.offset)) return;
    const run = this.#run;
    const ticket = tracker.admit(record.offset, this.#deps.clock.now(), (t, outcome) =>
      this.#finished(run, t, outcome),
    );
    tracker.fetchedUpTo(record.offset + 1n);
    this.#inFlight.add(ticket.entry);
    const { observer } = this.#deps;
    observer.recordsConsumed(this.pipeline.name, record.topic, record.partition, 1);
    observer.inFlight(this.pipeline.name, this.#inFlight.size);
    this.#deps.progress();
    input.next(this.#envelope(record, ticket));
  }

  #envelope(record: StoredRecord, ticket: TrackedTicket): Envelope<RawValue> {
    return recordEnvelope(this.pipeline, record.topic, record.partition, record, ticket, this.context);
  }

  #finished(run: number, ticket: AdmittedOffset, outcome: Outcome): void {
    const { observer, clock } = this.#deps;
    const durationMs = clock.now() - ticket.admittedAt;
    observer.recordFinished(this.pipeline.name, ticket.tracker.topic, outcome, durationMs / 1000);
    this.#deps.outcome({
      pipeline: this.pipeline.name,
      topic: ticket.tracker.topic,
      partition: ticket.tracker.partition,
      offset: ticket.offset,
      outcome,
      durationMs,
    });
    this.#deps.progress();
    if (run !== this.#run) return; // a late completion from before a restart: no credit, never committed
    this.#inFlight.delete(ticket);
    observer.inFlight(this.pipeline.name, this.#inFlight.size);
    if (this.#waiting.length > 0 && !this.#drainScheduled) {
      // like the engine's admission loop, resume admitting asynchronously (never inside an operator's call stack)
      this.#drainScheduled = true;
      queueMicrotask(() => {
        this.#drainScheduled = false;
        this.#drain(run);
      });
    }
  }

  #drain(run: number): void {
    while (run === this.#run && this.#state === 'running' && this.#inFlight.size < this.pipeline.maxInFlight) {
      const next = this.#waiting.shift();
      if (next === undefined) return;
      this.#admit(next);
    }
  }

  #endOfChain(element: Element<unknown>): void {
    this.#deps.progress();
    finishAtEndOfChain(element, (failed) => this.#deadLetter(failed, this.pipeline.deadLetter.topic), this.#log);
  }

  /** PipelineRunner#deadLetter, with its retry waits on the driver's clock. */
  async #deadLetter(failed: FailedEnvelope, topic: string): Promise<void> {
    const run = this.#run;
    return writeDeadLetter(failed, topic, {
      send: (record) => this.#deps.send(record),
      logger: this.#log,
      sleep: (ms) => new Promise<void>((done) => this.#deps.clock.schedule(() => done(), ms)),
      running: () => run === this.#run && this.#state !== 'closed',
    });
  }
}

/** The error `settle()` rejects with when a pipeline crashed. */
export function crashError(crash: PipelineCrash): TributaryError {
  return new TributaryError(
    'TRIBUTARY_ERR_PIPELINE_CRASHED',
    `pipeline ${crash.pipeline} crashed: ${errorMessage(crash.error)} (the engine would restart it from the committed offsets; call driver.restart() to do the same, or create the driver with onCrash: 'restart')`,
    { cause: crash.error },
  );
}
