/**
 * One run of a pipeline, created fresh by each (re)start: its consumer, admission gate, offset trackers, partition
 * parking, commit loop, operator chain and context. Late callbacks (a finish, a batch, an assignment) close over
 * their own run, so nothing of an earlier run can touch the current one. A run ends once: `close()`, after which it
 * only lets late completions release their credit.
 *
 * Data flows one way: client batch → admit (credit, ticket) → chain → end of chain / dead letter → ticket finish →
 * tracker → commit loop.
 */
import type { Logger } from 'pino';
import { Subject, type Subscription } from 'rxjs';
import { type Clock, sleep, systemClock } from '../clock.js';
import type { Envelope, FailedEnvelope, Outcome, PipelineContext, RawValue } from '../envelope.js';
import type { EngineObserver } from '../instrumentation.js';
import type {
  BatchControl,
  ConsumedRecord,
  ConsumerPort,
  KafkaClientPort,
  PartitionBatch,
  TopicPartition,
  TopicPartitionOffset,
} from '../kafka/ports.js';
import { CommitLoop } from '../offsets/commitLoop.js';
import { type AdmittedOffset, PartitionTracker } from '../offsets/partitionTracker.js';
import { AdmissionGate } from '../source/admissionGate.js';
import { PartitionParking, tpKey } from '../source/partitionParking.js';
import { recordEnvelope } from '../source/recordEnvelope.js';
import { writeDeadLetter } from './deadLetterWriter.js';
import type { Pipeline } from './definePipeline.js';
import { DroppedRecords } from './droppedRecords.js';
import { finishAtEndOfChain } from './endOfChain.js';
import type { ProducerBatcher } from './producerBatcher.js';

export interface RunDeps {
  client: KafkaClientPort;
  producer: ProducerBatcher;
  logger: Logger;
  observer: EngineObserver;
  /**
   * How the run reads time and starts timers (commit interval, admission waits, watchdog, crash backoff,
   * dead-letter retries, record durations). Default: the system clock; the test driver passes its virtual one.
   */
  clock?: Clock;
  /**
   * Called for every record the run finishes, right after the observer heard of it; `durationMs` is on `clock`,
   * from admission to finish. For the test driver; it must not throw (it runs inside the stage that finished it).
   */
  finished?: (pipeline: string, entry: AdmittedOffset, outcome: Outcome, durationMs: number) => void;
  /**
   * Called by `PipelineRunner` once per crash of a run, as soon as it handles it (before the failed run is closed
   * and before the restart backoff): a chain that errored, a consumer that crashed for good, or a (re)started run
   * that failed while starting. Not called when `start()` itself rejects (its caller gets that error). For the test
   * driver; one that throws is logged.
   */
  crashed?: (pipeline: string, error: unknown) => void;
}

/** A record the run holds: admitted and not finished (`in-flight`), or parked and not admitted yet (`waiting`). */
export interface UnfinishedOffset extends TopicPartitionOffset {
  readonly state: 'in-flight' | 'waiting';
}

/** What a run tells its supervisor. */
export interface RunSignals {
  /** The chain errored, or the consumer crashed for good: the run must be replaced. */
  crashed(error: unknown): void;
  /** The chain completed (e.g. `take(n)`): the pipeline stops cleanly. */
  completed(): void;
  /** A record left the chain without an outcome and was finished as `filtered` (first time: a warning). */
  dropped(entry: AdmittedOffset): void;
}

const HEARTBEAT_EVERY = 500;
/** Entries a tracker may retain behind a stuck head, per unit of maxInFlight, before its partition pauses. */
const RETAINED_PER_CREDIT = 10;

export class PipelineRun {
  readonly pipeline: Pipeline;
  readonly #deps: RunDeps;
  readonly #signals: RunSignals;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #gate: AdmissionGate;
  readonly #trackers = new Map<string, PartitionTracker>();
  readonly #input = new Subject<Envelope<RawValue>>();
  readonly #context: PipelineContext;
  readonly #dropped: DroppedRecords;
  readonly #consumer: ConsumerPort;
  readonly #parking: PartitionParking;
  readonly #commits: CommitLoop;
  readonly #onFinish: (entry: AdmittedOffset, outcome: Outcome) => void;
  #chain: Subscription | undefined;
  #removers: (() => void)[] = [];
  #assignment: readonly TopicPartition[] = [];
  #owned = new Set<string>();
  #joined = false;
  #admitting = false;
  #closed = false;
  #lastProgress: number;
  /** The client crashed and is restarting itself (connection lost): not ready until it joins again. */
  #interrupted: string | undefined;
  /** The group's leader assigned topics this member does not subscribe to (two pipelines sharing a group). */
  #unsubscribedTopics: readonly string[] = [];
  readonly #warnedStuck = new WeakSet<AdmittedOffset>();
  /** When the run was created, on its clock. */
  readonly startedAt: number;
  /** Set when the run failed (crash signal), so a supervisor that was busy starting it can tell. */
  failure: { error: unknown } | undefined;
  /** Set when the chain completed (completed signal), so a supervisor that was busy starting it can tell. */
  chainCompleted = false;

  constructor(pipeline: Pipeline, deps: RunDeps, signals: RunSignals) {
    this.pipeline = pipeline;
    this.#deps = deps;
    this.#signals = signals;
    this.#log = deps.logger.child({ pipeline: pipeline.name, groupId: pipeline.source.groupId });
    const clock = deps.clock ?? systemClock;
    this.#clock = clock;
    this.startedAt = clock.now();
    this.#lastProgress = this.startedAt;
    this.#gate = new AdmissionGate(pipeline.maxInFlight, clock);
    this.#dropped = new DroppedRecords((entry) => signals.dropped(entry), clock);
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
    this.#consumer = deps.client.consumer({ groupId: pipeline.source.groupId, ...pipeline.consumer });
    const name = pipeline.name;
    this.#parking = new PartitionParking({
      consumer: this.#consumer,
      gate: this.#gate,
      maxInFlight: pipeline.maxInFlight,
      maxParked: Math.max(10_000, pipeline.maxInFlight * 10),
      maxRetained: Math.max(1000, pipeline.maxInFlight * RETAINED_PER_CREDIT),
      log: this.#log,
      admitRecord: (tracker, record) => this.#admitRecord(tracker, record),
      admitting: () => this.#admitting,
      consumed: (tracker, count) => deps.observer.recordsConsumed(name, tracker.topic, tracker.partition, count),
      pausedCount: (count) => deps.observer.partitionsPaused(name, count),
    });
    this.#commits = new CommitLoop({
      consumer: this.#consumer,
      intervalMs: pipeline.commitIntervalMs,
      log: this.#log,
      clock,
      trackers: () => this.#trackers.values(),
      beforeRound: () => deps.observer.inFlight(name, this.#gate.inFlight),
      committed: (tracker, offset) =>
        deps.observer.offsetCommitted(name, pipeline.source.groupId, tracker.topic, tracker.partition, offset),
      done: (seconds, ok) => deps.observer.commitDone(name, seconds, ok),
    });
    const gate = this.#gate;
    const parking = this.#parking;
    const { finished } = deps;
    this.#onFinish = (entry, outcome) => {
      gate.release();
      const now = clock.now();
      this.#lastProgress = now;
      parking.scheduleDrain();
      const durationMs = now - entry.admittedAt;
      deps.observer.recordFinished(name, entry.tracker.topic, outcome, durationMs / 1000);
      finished?.(name, entry, outcome, durationMs);
    };
  }

  get inFlight(): number {
    return this.#gate.inFlight;
  }

  get assignment(): readonly TopicPartition[] {
    return this.#assignment;
  }

  get pausedPartitions(): number {
    return this.#parking.pausedCount;
  }

  /** Why this run is not consuming normally now, or undefined when it is (joined, owning what it should). */
  get notReadyReason(): string | undefined {
    if (!this.#joined) return this.#interrupted ?? 'waiting to join its group';
    if (this.#unsubscribedTopics.length > 0 && this.#assignment.length === 0) {
      return `assigned nothing: its group's leader assigns topics it does not consume (${this.#unsubscribedTopics.join(', ')}); another member of group ${this.pipeline.source.groupId} subscribes to other topics`;
    }
    const stalledMs = this.#clock.now() - this.#lastProgress;
    if (this.#gate.inFlight > 0 && stalledMs > this.pipeline.stuckAfterMs) {
      return `no record finished for ${Math.round(stalledMs / 1000)} s with ${this.#gate.inFlight} in flight`;
    }
    return undefined;
  }

  async start(): Promise<void> {
    const { pipeline } = this;
    this.#chain = pipeline.build(this.#input.asObservable()).subscribe({
      next: (element) =>
        finishAtEndOfChain(element, (failed) => this.#deadLetter(failed, pipeline.deadLetter.topic), this.#log),
      error: (error: unknown) => this.#fail(error),
      complete: () => {
        this.#dropped.stop();
        if (this.#closed) return;
        this.chainCompleted = true;
        this.#signals.completed();
      },
    });
    const consumer = this.#consumer;
    this.#removers = [
      consumer.onAssigned(({ assignment }) => this.#onAssigned(assignment)),
      consumer.onRebalancing(() => {
        this.#log.info('group rebalancing: committing finished offsets before partitions move');
        this.#commits.commitNow().catch(() => {});
      }),
      consumer.onFatal((error) => this.#fail(error)),
      consumer.onInterrupted((error) => {
        this.#joined = false;
        this.#interrupted = `consumer reconnecting: ${error.message}`;
        this.#log.warn({ err: error }, 'consumer lost its connection or group; the client reconnects and rejoins');
      }),
      consumer.onUnsubscribedTopics((topics) => {
        this.#unsubscribedTopics = topics;
        this.#log.error(
          { topics },
          `group ${pipeline.source.groupId} assigns topics this pipeline does not consume: another member of the group subscribes to other topics, so some partitions are consumed by nobody`,
        );
      }),
      consumer.onEmptyBatch((tp, endOffset) => this.#skippedUpTo(tp, endOffset)),
    ];
    await consumer.connect();
    await consumer.subscribe(pipeline.source.topics, pipeline.source.fromBeginning);
    // a chain that errored or completed while the run started admits nothing: its supervisor closes the run
    if (this.failure === undefined && !this.chainCompleted) this.#admitting = true;
    await consumer.run((batch, control) => this.#admit(batch, control));
    this.#commits.start();
  }

  #fail(error: unknown): void {
    if (this.#closed || this.failure) return;
    this.failure = { error };
    this.#admitting = false;
    this.#gate.wakeAll();
    this.#signals.crashed(error);
  }

  #onAssigned(assignment: readonly TopicPartition[]): void {
    if (this.#closed) return;
    const owned = new Set(assignment.map((tp) => tpKey(tp.topic, tp.partition)));
    for (const [key, tracker] of this.#trackers) {
      if (!owned.has(key)) {
        tracker.revoke();
        this.#trackers.delete(key);
      }
    }
    this.#assignment = assignment;
    this.#owned = owned;
    this.#parking.assigned(assignment, owned);
    this.#joined = true;
    this.#interrupted = undefined;
    if (assignment.length > 0) this.#unsubscribedTopics = [];
    this.#deps.observer.assigned(this.pipeline.name, this.pipeline.source.groupId, assignment);
    this.#log.info({ assignment: assignment.map((tp) => `${tp.topic}/${tp.partition}`) }, 'joined group');
  }

  /** The tracker of an owned partition; undefined for a partition this member does not own now (a stale batch). */
  #tracker(topic: string, partition: number): PartitionTracker | undefined {
    const key = tpKey(topic, partition);
    if (!this.#owned.has(key)) return undefined;
    let tracker = this.#trackers.get(key);
    if (tracker === undefined) {
      tracker = new PartitionTracker(topic, partition);
      this.#trackers.set(key, tracker);
    }
    return tracker;
  }

  /** The client resolved a batch that held only control records (transaction markers): count it as fetched. */
  #skippedUpTo(tp: TopicPartition, endOffset: bigint): void {
    const tracker = this.#trackers.get(tpKey(tp.topic, tp.partition));
    if (tracker === undefined || tracker.revoked || this.#parking.isParked(tracker)) return;
    tracker.fetchedUpTo(endOffset);
  }

  /** The bridge: admit a partition batch into the chain, one credit per record; awaiting here is backpressure. */
  async #admit(batch: PartitionBatch, control: BatchControl): Promise<void> {
    if (!this.#admitting) {
      // stopping or crashed: keep the client from fetching the same offsets again in a tight loop
      this.#pauseAll();
      return;
    }
    const tracker = this.#tracker(batch.topic, batch.partition);
    // a batch for a partition not owned now (fetched before a rebalance): admit nothing, move nothing
    if (tracker === undefined) return;
    const parking = this.#parking;
    if (parking.isParked(tracker)) {
      // fetched before the pause took effect: its records come again after the parked ones (already-admitted
      // offsets are skipped then); leave the client's position where it is
      parking.pause(tracker);
      return;
    }
    const gate = this.#gate;
    const { records } = batch;
    let admitted = 0;
    let next: bigint | undefined;
    parking.admittingBatches++;
    try {
      for (let i = 0; i < records.length; i++) {
        const record = records[i] as ConsumedRecord;
        if (!tracker.accepts(record.offset)) {
          next = record.offset + 1n;
          continue;
        }
        for (;;) {
          const windowFull = gate.inFlight >= gate.limit;
          if (parking.shouldStepAside(tracker, windowFull)) {
            // a partition holding its share of a full window (or too much behind a stuck head) steps aside: paused,
            // the rest of the batch parked, so the client can hand over the other partitions' batches
            const resumeAt = parking.park(tracker, records.slice(i), batch.endOffset);
            if (resumeAt !== undefined) {
              next = resumeAt;
              return;
            }
          }
          if (gate.tryAcquire()) break;
          await gate.waitForCapacity(1000);
          if (!this.#admitting || tracker.revoked || !control.shouldContinue()) return;
          await control.heartbeat();
        }
        if (!this.#admitting || tracker.revoked) {
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
      parking.admittingBatches--;
      if (next !== undefined && !tracker.revoked) control.advanceTo(next);
      if (admitted > 0) this.#deps.observer.recordsConsumed(this.pipeline.name, batch.topic, batch.partition, admitted);
    }
  }

  /** Admits one record whose credit was acquired: its offset entry, its ticket and envelope, into the chain. */
  #admitRecord(tracker: PartitionTracker, record: ConsumedRecord): void {
    const ticket = tracker.admit(record.offset, this.#clock.now(), this.#onFinish);
    this.#dropped.watch(ticket);
    this.#input.next(recordEnvelope(this.pipeline, tracker.topic, tracker.partition, record, ticket, this.#context));
  }

  #pauseAll(): void {
    if (this.#assignment.length === 0) return;
    try {
      this.#consumer.pause(this.#assignment);
    } catch (error) {
      this.#log.debug({ err: error }, 'pause failed (consumer not running)');
    }
  }

  #deadLetter(failed: FailedEnvelope, topic: string): Promise<void> {
    return writeDeadLetter(failed, topic, {
      send: (record) => this.#deps.producer.send(record),
      logger: this.#log,
      sleep: (ms) => sleep(this.#clock, ms),
      running: () => !this.#closed,
    });
  }

  /**
   * The watchdog's look at this run: the age of the oldest unfinished record (metric), a warning for each record
   * unfinished past `stuckAfterMs`, and a garbage collection when something is old, so dropped records are found.
   */
  watch(now = this.#clock.now()): void {
    let oldest: AdmittedOffset | undefined;
    for (const tracker of this.#trackers.values()) {
      const head = tracker.oldestUnfinished();
      if (head !== undefined && (oldest === undefined || head.admittedAt < oldest.admittedAt)) oldest = head;
    }
    const ageMs = oldest === undefined ? 0 : now - oldest.admittedAt;
    this.#deps.observer.oldestUnfinished(this.pipeline.name, ageMs / 1000);
    this.#dropped.nudge(ageMs, Math.min(10_000, this.pipeline.stuckAfterMs));
    if (oldest === undefined) return;
    if (ageMs > this.pipeline.stuckAfterMs && !oldest.finished && !this.#warnedStuck.has(oldest)) {
      this.#warnedStuck.add(oldest);
      this.#log.warn(
        {
          topic: oldest.tracker.topic,
          partition: oldest.tracker.partition,
          offset: oldest.offset.toString(),
          lastStage: oldest.lastStage ?? '(none: still in the first stage)',
          unfinishedMs: Math.round(ageMs),
          retainedBehind: oldest.tracker.retained,
        },
        `record unfinished for ${Math.round(ageMs / 1000)} s after stage ${oldest.lastStage ?? '(none)'}: it holds its partition's commit (a hung call, a stage that neither emits nor finishes it, or a dead-letter topic that refuses it)`,
      );
    }
  }

  /** Commits what is finished now (see `CommitLoop.commitNow`: the client's commit is called synchronously). */
  commitNow(): Promise<void> {
    return this.#commits.commitNow();
  }

  /**
   * The records this run holds, per owned partition in ascending offset order: admitted and not finished
   * (`in-flight`), then parked and not admitted yet (`waiting`). A revoked partition's records (the run closed, or
   * the partition moved) are not held any more: they are consumed again from the committed offset.
   */
  unfinished(): UnfinishedOffset[] {
    const result: UnfinishedOffset[] = [];
    for (const tracker of this.#trackers.values()) {
      if (tracker.revoked) continue;
      const { topic, partition } = tracker;
      for (const entry of tracker.unfinishedEntries()) {
        result.push({ topic, partition, offset: entry.offset, state: 'in-flight' });
      }
      for (const offset of this.#parking.waiting(tracker)) {
        result.push({ topic, partition, offset, state: 'waiting' });
      }
    }
    return result;
  }

  /**
   * Per owned partition, the offset its group would be at after a commit now: what its tracker would commit, or
   * else what it committed last. Partitions where neither is known (nothing fetched or committed yet) are left out.
   */
  committable(): TopicPartitionOffset[] {
    const result: TopicPartitionOffset[] = [];
    for (const tracker of this.#trackers.values()) {
      if (tracker.revoked) continue;
      const offset = tracker.committable() ?? (tracker.committed >= 0n ? tracker.committed : undefined);
      if (offset !== undefined) result.push({ topic: tracker.topic, partition: tracker.partition, offset });
    }
    return result;
  }

  /** Stop admitting (the first step of a stop or a crash): waiters wake, new batches are not admitted. */
  stopAdmitting(): void {
    this.#admitting = false;
    this.#gate.wakeAll();
    this.#pauseAll();
  }

  /** Resolves true once nothing is in flight, false after `timeoutMs`. */
  drained(timeoutMs: number): Promise<boolean> {
    return this.#gate.idle(timeoutMs);
  }

  /** Ends the run: final commit (when `commit`), leave the group, drop the chain. Never rejects. */
  async close(commit: boolean): Promise<void> {
    if (this.#closed) return;
    this.#dropped.stop();
    this.stopAdmitting();
    this.#commits.stop();
    if (commit) await this.#commits.commitNow();
    else await this.#commits.settled();
    this.#closed = true;
    for (const remove of this.#removers) remove();
    this.#removers = [];
    this.#joined = false;
    for (const tracker of this.#trackers.values()) tracker.revoke();
    await this.#consumer.disconnect().catch((error: unknown) => {
      this.#log.warn({ err: error }, 'consumer disconnect failed');
    });
    this.#assignment = [];
    this.#parking.clear();
    this.#deps.observer.released(this.pipeline.name, this.pipeline.source.groupId);
    this.#deps.observer.oldestUnfinished(this.pipeline.name, 0);
    this.#chain?.unsubscribe();
    this.#chain = undefined;
    this.#input.complete();
  }
}
