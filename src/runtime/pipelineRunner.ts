/**
 * Runs one pipeline: one consumer, the admission gate, the per-partition offset trackers, the operator chain and the
 * commit loop. The lifecycle is start → (crash → restart)* → stop (drain, commit, disconnect) or abort.
 */
import type { Logger } from 'pino';
import { Subject, type Subscription } from 'rxjs';
import type { Element, Envelope, FailedEnvelope, Outcome, PipelineContext, RawValue } from '../envelope.js';
import { errorMessage, TributaryError } from '../errors.js';
import type { EngineObserver } from '../instrumentation.js';
import type {
  BatchControl,
  ConsumedRecord,
  ConsumerPort,
  KafkaClientPort,
  PartitionBatch,
  TopicPartition,
} from '../kafka/ports.js';
import { PartitionTracker, type TrackedTicket } from '../offsets/partitionTracker.js';
import { AdmissionGate } from '../source/admissionGate.js';
import { recordEnvelope } from '../source/recordEnvelope.js';
import { writeDeadLetter } from './deadLetterWriter.js';
import type { Pipeline } from './definePipeline.js';
import type { ProducerBatcher } from './producerBatcher.js';

export type RunnerState = 'idle' | 'starting' | 'running' | 'restarting' | 'stopping' | 'stopped' | 'failed';

export interface RunnerDeps {
  client: KafkaClientPort;
  producer: ProducerBatcher;
  logger: Logger;
  observer: EngineObserver;
}

const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms).unref());
const tpKey = (topic: string, partition: number) => `${topic}\u0000${partition}`;
const HEARTBEAT_EVERY = 500;

/** The unadmitted rest of a fetched batch of a paused partition. */
interface ParkedBatch {
  readonly tracker: PartitionTracker;
  /** Admitted entries are cleared, so a parked batch holds only what waits. */
  readonly records: (ConsumedRecord | undefined)[];
  /** The next record to admit. */
  next: number;
  readonly endOffset: bigint;
  /** Admitting again: opened once the partition drained to its low mark, closed when it holds its share again. */
  open: boolean;
}

/**
 * The second line of backpressure: when the window is full, a partition holding more than its share of it steps
 * aside — it is paused (not fetched) and the rest of its fetched batch is parked in memory — so one slow partition
 * cannot take every credit from the others while kafkajs waits on it. Its share is 1.5 × maxInFlight / assigned
 * partitions; with one partition the admission limit alone applies. While the window has room nothing is paused.
 * Parked records are admitted as credits free up (first to a partition below `low`, the rest while nobody else
 * waits), and the partition is resumed once they all are: nothing fetched is thrown away and fetched again.
 */
export function partitionPauseThresholds(maxInFlight: number, assigned: number): { high: number; low: number } {
  if (assigned <= 1) return { high: Number.POSITIVE_INFINITY, low: Number.POSITIVE_INFINITY };
  const high = Math.min(maxInFlight, Math.max(1, Math.ceil((1.5 * maxInFlight) / assigned)));
  return { high, low: Math.floor(high / 2) };
}

export class PipelineRunner {
  readonly pipeline: Pipeline;
  readonly #deps: RunnerDeps;
  readonly #log: Logger;
  readonly #context: PipelineContext;
  #state: RunnerState = 'idle';
  #run = 0;
  #consumer: ConsumerPort | undefined;
  #gate: AdmissionGate;
  #trackers = new Map<string, PartitionTracker>();
  #assignment: readonly TopicPartition[] = [];
  #pauseAt = { high: Number.POSITIVE_INFINITY, low: Number.POSITIVE_INFINITY };
  #paused = new Map<string, TopicPartition>();
  #parked = new Map<string, ParkedBatch>();
  #drainScheduled = false;
  /** #admit calls in progress: a partition's batch is being admitted (it wants credits). */
  #batchesAdmitting = 0;
  #joined = false;
  #admitting = false;
  #input: Subject<Envelope<RawValue>> | undefined;
  #chain: Subscription | undefined;
  #removers: (() => void)[] = [];
  #commitTimer: NodeJS.Timeout | undefined;
  #committing: Promise<void> | undefined;
  #commitAgain = false;
  #crashes = 0;
  #restarting: Promise<void> | undefined;
  #stopRequested = false;
  #onFinish: (ticket: TrackedTicket, outcome: Outcome) => void = () => {};

  constructor(pipeline: Pipeline, deps: RunnerDeps) {
    this.pipeline = pipeline;
    this.#deps = deps;
    this.#log = deps.logger.child({ pipeline: pipeline.name, groupId: pipeline.source.groupId });
    this.#gate = new AdmissionGate(pipeline.maxInFlight);
    this.#context = {
      pipeline: pipeline.name,
      groupId: pipeline.source.groupId,
      deadLetterTopic: pipeline.deadLetter.topic,
      logger: this.#log,
      send: (record) => deps.producer.send(record),
      enqueue: (record, done) => deps.producer.enqueue(record, done),
      deadLetter: (failed, topic) => this.#deadLetter(failed, topic ?? pipeline.deadLetter.topic),
      recordRetry: (stage) => deps.observer.retried(pipeline.name, stage),
    };
  }

  get state(): RunnerState {
    return this.#state;
  }

  get inFlight(): number {
    return this.#gate.inFlight;
  }

  /** Joined its group and consuming. */
  get ready(): boolean {
    return this.#state === 'running' && this.#joined;
  }

  get assignment(): readonly TopicPartition[] {
    return this.#assignment;
  }

  async start(): Promise<void> {
    if (this.#state !== 'idle' && this.#state !== 'restarting') {
      throw new Error(`pipeline ${this.pipeline.name} cannot start from state ${this.#state}`);
    }
    if (this.#state === 'idle') this.#stopRequested = false;
    this.#state = 'starting';
    const run = ++this.#run;
    const { pipeline } = this;
    this.#gate = new AdmissionGate(pipeline.maxInFlight);
    this.#onFinish = this.#finishListener(this.#gate);
    this.#trackers = new Map();
    this.#paused = new Map();
    this.#parked = new Map();
    this.#joined = false;

    const input = new Subject<Envelope<RawValue>>();
    this.#input = input;
    this.#chain = pipeline.build(input.asObservable()).subscribe({
      next: (element) => this.#endOfChain(element),
      error: (error: unknown) => this.#crash(run, error),
      complete: () => {
        if (this.#state === 'running' || this.#state === 'starting') {
          this.#crash(run, new Error('the operator chain completed while the pipeline was running'));
        }
      },
    });

    const consumer = this.#deps.client.consumer({ groupId: pipeline.source.groupId, ...pipeline.consumer });
    this.#consumer = consumer;
    this.#removers = [
      consumer.onAssigned(({ assignment }) => this.#onAssigned(run, assignment)),
      consumer.onRebalancing(() => {
        this.#log.info('group rebalancing: committing finished offsets before partitions move');
        void this.#commitNow();
      }),
      consumer.onFatal((error) => this.#crash(run, error)),
    ];
    try {
      await consumer.connect();
      await consumer.subscribe(pipeline.source.topics, pipeline.source.fromBeginning);
      this.#admitting = true;
      await consumer.run((batch, control) => this.#admit(run, batch, control));
    } catch (error) {
      this.#admitting = false;
      this.#state = 'failed';
      await this.#teardown(false);
      throw error;
    }
    this.#commitTimer = setInterval(() => void this.#commitNow(), pipeline.commitIntervalMs);
    this.#commitTimer.unref();
    this.#state = 'running';
    this.#log.info({ topics: pipeline.source.topics, ordering: pipeline.ordering }, 'pipeline started');
  }

  /** Stop admitting, drain in-flight records (up to drainTimeoutMs), commit, disconnect. */
  async stop(drainTimeoutMs = this.pipeline.drainTimeoutMs): Promise<void> {
    this.#stopRequested = true;
    if (this.#restarting) await this.#restarting.catch(() => {});
    if (this.#state === 'stopped' || this.#state === 'idle' || this.#state === 'failed') {
      this.#state = 'stopped';
      return;
    }
    this.#state = 'stopping';
    this.#admitting = false;
    this.#gate.wakeAll();
    const drained = await this.#gate.idle(drainTimeoutMs);
    if (!drained) {
      const error = new TributaryError(
        'TRIBUTARY_ERR_SHUTDOWN_TIMEOUT',
        `${this.#gate.inFlight} records still in flight after ${drainTimeoutMs} ms; they are re-delivered after restart`,
      );
      this.#log.warn({ err: error, code: error.code }, error.message);
    }
    await this.#teardown(true);
    this.#state = 'stopped';
    this.#log.info('pipeline stopped');
  }

  /** Stops at once: no drain, no final commit (what a crash looks like to Kafka, minus the session timeout). */
  async abort(): Promise<void> {
    this.#stopRequested = true;
    if (this.#restarting) await this.#restarting.catch(() => {});
    this.#state = 'stopping';
    this.#admitting = false;
    this.#gate.wakeAll();
    await this.#teardown(false);
    this.#state = 'stopped';
  }

  async #teardown(commit: boolean): Promise<void> {
    if (this.#commitTimer) clearInterval(this.#commitTimer);
    this.#commitTimer = undefined;
    if (commit) await this.#commitNow();
    else if (this.#committing) await this.#committing.catch(() => {});
    for (const remove of this.#removers) remove();
    this.#removers = [];
    const consumer = this.#consumer;
    this.#consumer = undefined;
    this.#joined = false;
    for (const tracker of this.#trackers.values()) tracker.revoke();
    if (consumer) {
      await consumer.disconnect().catch((error: unknown) => {
        this.#log.warn({ err: error }, 'consumer disconnect failed');
      });
    }
    this.#assignment = [];
    this.#paused.clear();
    this.#parked.clear();
    this.#deps.observer.partitionsPaused(this.pipeline.name, 0);
    this.#deps.observer.released(this.pipeline.name, this.pipeline.source.groupId);
    this.#chain?.unsubscribe();
    this.#chain = undefined;
    this.#input?.complete();
    this.#input = undefined;
  }

  /** The operator chain errored (a bug in an operator or user code): restart from the committed offsets. */
  #crash(run: number, error: unknown): void {
    if (run !== this.#run || this.#restarting || this.#stopRequested) return;
    if (this.#state === 'stopping' || this.#state === 'stopped') return;
    this.#state = 'restarting';
    this.#admitting = false;
    this.#gate.wakeAll();
    this.#restarting = (async () => {
      let cause = error;
      await this.#teardown(true);
      for (;;) {
        this.#crashes++;
        const delay = Math.min(30_000, 500 * 2 ** Math.min(this.#crashes - 1, 6));
        const wrapped = new TributaryError(
          'TRIBUTARY_ERR_PIPELINE_CRASHED',
          `pipeline ${this.pipeline.name} crashed: ${errorMessage(cause)}; restarting in ${delay} ms from committed offsets`,
          { cause },
        );
        this.#log.error({ err: cause, code: wrapped.code, crashes: this.#crashes }, wrapped.message);
        await sleep(delay);
        if (this.#stopRequested) return;
        this.#state = 'restarting';
        try {
          await this.start();
          return;
        } catch (startError) {
          cause = startError;
        }
      }
    })().finally(() => {
      this.#restarting = undefined;
    });
  }

  #onAssigned(run: number, assignment: readonly TopicPartition[]): void {
    if (run !== this.#run) return;
    const owned = new Set(assignment.map((tp) => tpKey(tp.topic, tp.partition)));
    for (const [key, tracker] of this.#trackers) {
      if (!owned.has(key)) {
        tracker.revoke();
        this.#trackers.delete(key);
      }
    }
    this.#assignment = assignment;
    this.#pauseAt = partitionPauseThresholds(this.pipeline.maxInFlight, assignment.length);
    for (const key of [...this.#parked.keys()]) if (!owned.has(key)) this.#parked.delete(key);
    // kafkajs keeps a pause across assignments: lift it, or the partition would stay paused if it came back
    for (const key of [...this.#paused.keys()]) if (!owned.has(key)) this.#resume(key);
    this.#deps.observer.partitionsPaused(this.pipeline.name, this.#paused.size);
    this.#joined = true;
    this.#deps.observer.assigned(this.pipeline.name, this.pipeline.source.groupId, assignment);
    this.#log.info({ assignment: assignment.map((tp) => `${tp.topic}/${tp.partition}`) }, 'joined group');
  }

  #tracker(topic: string, partition: number): PartitionTracker {
    const key = tpKey(topic, partition);
    let tracker = this.#trackers.get(key);
    if (tracker === undefined || tracker.revoked) {
      tracker = new PartitionTracker(topic, partition);
      this.#trackers.set(key, tracker);
    }
    return tracker;
  }

  /** The bridge: admit a partition batch into the chain, one credit per record; awaiting here is backpressure. */
  async #admit(run: number, batch: PartitionBatch, control: BatchControl): Promise<void> {
    if (run !== this.#run || !this.#admitting) return;
    const tracker = this.#tracker(batch.topic, batch.partition);
    if (!this.#input) return;
    const key = tpKey(batch.topic, batch.partition);
    const parked = this.#parked.get(key);
    if (parked !== undefined && parked.tracker === tracker) {
      // fetched before the pause took effect: its records come again after the parked ones (already-admitted
      // offsets are skipped then); leave kafkajs' position where it is
      this.#pause(tracker);
      return;
    }
    if (parked !== undefined) this.#parked.delete(key); // left from a revoked tracker
    const gate = this.#gate;
    const { records } = batch;
    let admitted = 0;
    let next: bigint | undefined;
    this.#batchesAdmitting++;
    try {
      for (let i = 0; i < records.length; i++) {
        const record = records[i] as ConsumedRecord;
        if (!tracker.accepts(record.offset)) {
          next = record.offset + 1n;
          continue;
        }
        while (!gate.tryAcquire()) {
          // the window is full: a partition holding more than its share steps aside (paused, the rest of the batch
          // parked) instead of waiting, so kafkajs can hand over the other partitions' batches
          if (tracker.unfinished >= this.#pauseAt.high && this.#pause(tracker)) {
            this.#parked.set(key, {
              tracker,
              records: records.slice(i),
              next: 0,
              endOffset: batch.endOffset,
              open: false,
            });
            next = batch.endOffset;
            return;
          }
          await gate.waitForCapacity(1000);
          if (!this.#admitting || tracker.revoked || !control.shouldContinue()) return;
          await control.heartbeat();
        }
        if (!this.#admitting || tracker.revoked || run !== this.#run) {
          gate.release();
          return;
        }
        admitted++;
        next = record.offset + 1n;
        this.#admitRecord(tracker, record);
        if (admitted % HEARTBEAT_EVERY === 0) await control.heartbeat();
      }
      tracker.fetchedUpTo(batch.endOffset);
      next = batch.endOffset;
    } finally {
      this.#batchesAdmitting--;
      if (next !== undefined && !tracker.revoked) control.advanceTo(next);
      if (admitted > 0) this.#deps.observer.recordsConsumed(this.pipeline.name, batch.topic, batch.partition, admitted);
    }
  }

  /** Admits one record whose credit was acquired: its offset ticket, its envelope, into the chain. */
  #admitRecord(tracker: PartitionTracker, record: ConsumedRecord): void {
    const ticket = tracker.admit(record.offset, performance.now(), this.#onFinish);
    this.#input?.next(recordEnvelope(this.pipeline, tracker.topic, tracker.partition, record, ticket, this.#context));
  }

  #scheduleDrain(): void {
    if (this.#drainScheduled) return;
    this.#drainScheduled = true;
    queueMicrotask(() => {
      this.#drainScheduled = false;
      this.#drainParked();
    });
  }

  /**
   * Admits parked records while credits are free. A parked partition starts again once it drained to its low mark;
   * while another partition wants credits (its batch is being admitted, or it is parked too) it stops at its share
   * (the high mark), otherwise it may use the whole window. A partition whose parked records are all admitted is
   * resumed.
   */
  #drainParked(): void {
    const gate = this.#gate;
    const { high, low } = this.#pauseAt;
    for (const [key, parked] of this.#parked) {
      if (!this.#admitting) return;
      const { tracker, records } = parked;
      if (tracker.revoked) {
        this.#parked.delete(key); // re-delivered from the committed offset to whoever owns the partition now
        continue;
      }
      if (!parked.open) {
        if (tracker.unfinished > low) continue;
        parked.open = true;
      }
      const contended = this.#batchesAdmitting > 0 || this.#parked.size > 1;
      let admitted = 0;
      while (parked.next < records.length) {
        const record = records[parked.next] as ConsumedRecord;
        if (!tracker.accepts(record.offset)) {
          records[parked.next++] = undefined;
          continue;
        }
        if (contended && tracker.unfinished >= high) {
          parked.open = false;
          break;
        }
        if (!gate.tryAcquire()) break;
        records[parked.next++] = undefined;
        admitted++;
        this.#admitRecord(tracker, record);
        if (!this.#admitting || tracker.revoked) break;
      }
      if (admitted > 0) {
        this.#deps.observer.recordsConsumed(this.pipeline.name, tracker.topic, tracker.partition, admitted);
      }
      if (parked.next >= records.length && !tracker.revoked) {
        tracker.fetchedUpTo(parked.endOffset);
        this.#parked.delete(key);
        this.#resume(key);
      }
      if (gate.inFlight >= gate.limit) return;
    }
  }

  /** Pauses the partition's fetching; false when the consumer refused (then nothing may be parked for it). */
  #pause(tracker: PartitionTracker): boolean {
    const key = tpKey(tracker.topic, tracker.partition);
    if (this.#paused.has(key)) return true;
    if (!this.#consumer) return false;
    const tp = { topic: tracker.topic, partition: tracker.partition };
    try {
      this.#consumer.pause([tp]);
    } catch (error) {
      this.#log.debug({ err: error, ...tp }, 'pause failed (consumer not running)');
      return false;
    }
    this.#paused.set(key, tp);
    this.#deps.observer.partitionsPaused(this.pipeline.name, this.#paused.size);
    this.#log.debug({ ...tp, unfinished: tracker.unfinished }, 'partition paused: it holds its share of maxInFlight');
    return true;
  }

  #resume(key: string): void {
    const tp = this.#paused.get(key);
    if (!tp) return;
    this.#paused.delete(key);
    try {
      this.#consumer?.resume([tp]);
    } catch (error) {
      this.#log.debug({ err: error, ...tp }, 'resume failed (consumer not running)');
    }
    this.#deps.observer.partitionsPaused(this.pipeline.name, this.#paused.size);
  }

  /** Partitions paused by the second line of backpressure, now. */
  get pausedPartitions(): number {
    return this.#paused.size;
  }

  /** Each run has its own gate: a late finish from an earlier run must not free credit in the current one. */
  #finishListener(gate: AdmissionGate): (ticket: TrackedTicket, outcome: Outcome) => void {
    const { observer } = this.#deps;
    const name = this.pipeline.name;
    return (ticket, outcome) => {
      gate.release();
      if (this.#parked.size > 0 && gate === this.#gate) this.#scheduleDrain();
      observer.recordFinished(name, ticket.tracker.topic, outcome, (performance.now() - ticket.admittedAt) / 1000);
    };
  }

  /** Whatever reaches the end of the chain finishes: ok elements as `sunk`, failed ones via the dead-letter topic. */
  #endOfChain(element: Element<unknown>): void {
    if (element.ticket.finished) return;
    if (element.ok) {
      element.ticket.finish(element.ticket.settled ?? 'sunk');
      return;
    }
    void this.#deadLetter(element, this.pipeline.deadLetter.topic);
  }

  #deadLetter(failed: FailedEnvelope, topic: string): Promise<void> {
    const run = this.#run;
    return writeDeadLetter(failed, topic, {
      send: (record) => this.#deps.producer.send(record),
      logger: this.#log,
      sleep,
      running: () => run === this.#run && this.#state !== 'stopped',
    });
  }

  /** Commits every partition's committable offset; concurrent calls coalesce into one more round. */
  #commitNow(): Promise<void> {
    if (this.#committing) {
      this.#commitAgain = true;
      return this.#committing;
    }
    this.#committing = (async () => {
      do {
        this.#commitAgain = false;
        await this.#commitOnce();
      } while (this.#commitAgain);
    })().finally(() => {
      this.#committing = undefined;
    });
    return this.#committing;
  }

  async #commitOnce(): Promise<void> {
    this.#deps.observer.inFlight(this.pipeline.name, this.#gate.inFlight);
    const consumer = this.#consumer;
    if (!consumer) return;
    const plan: { tracker: PartitionTracker; offset: bigint }[] = [];
    for (const tracker of this.#trackers.values()) {
      const offset = tracker.committable();
      if (offset !== undefined) plan.push({ tracker, offset });
    }
    if (plan.length === 0) return;
    const started = performance.now();
    try {
      await consumer.commit(
        plan.map(({ tracker, offset }) => ({ topic: tracker.topic, partition: tracker.partition, offset })),
      );
      this.#deps.observer.commitDone(this.pipeline.name, (performance.now() - started) / 1000, true);
      this.#crashes = 0;
      for (const { tracker, offset } of plan) {
        tracker.markCommitted(offset);
        this.#deps.observer.offsetCommitted(
          this.pipeline.name,
          this.pipeline.source.groupId,
          tracker.topic,
          tracker.partition,
          offset,
        );
      }
    } catch (error) {
      this.#deps.observer.commitDone(this.pipeline.name, (performance.now() - started) / 1000, false);
      this.#log.warn(
        { err: error, partitions: plan.length },
        `offset commit failed (retried next round): ${errorMessage(error)}`,
      );
    }
  }
}
