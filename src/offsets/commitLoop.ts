/**
 * Commits every owned partition's committable offset on an interval, on request (a rebalance is coming) and once at
 * the end of a run. Concurrent requests coalesce into one more round. An offset counts as committed only after the
 * client said it was (a refused or skipped commit is retried next round, never marked).
 */
import type { Logger } from 'pino';
import { type CancelTimer, type Clock, systemClock } from '../clock.js';
import { errorMessage } from '../errors.js';
import type { ConsumerPort } from '../kafka/ports.js';
import type { PartitionTracker } from './partitionTracker.js';

export interface CommitLoopDeps {
  readonly consumer: ConsumerPort;
  readonly intervalMs: number;
  readonly log: Logger;
  /** Times the interval and the rounds' durations. Default: the system clock. */
  readonly clock?: Clock;
  /** The trackers of the partitions owned now (revoked ones yield nothing). */
  trackers(): Iterable<PartitionTracker>;
  /** Called before each round (metrics: in-flight gauge). */
  beforeRound(): void;
  committed(tracker: PartitionTracker, offset: bigint): void;
  done(seconds: number, ok: boolean): void;
}

export class CommitLoop {
  readonly #deps: CommitLoopDeps;
  readonly #clock: Clock;
  #stopTimer: CancelTimer | undefined;
  #committing: Promise<void> | undefined;
  #again = false;

  constructor(deps: CommitLoopDeps) {
    this.#deps = deps;
    this.#clock = deps.clock ?? systemClock;
  }

  start(): void {
    this.#stopTimer = this.#clock.setInterval(() => {
      this.commitNow().catch(() => {}); // commitNow never rejects; the catch only keeps that a local fact
    }, this.#deps.intervalMs);
  }

  stop(): void {
    this.#stopTimer?.();
    this.#stopTimer = undefined;
  }

  /** Resolves once the round in progress (if any) is over. */
  async settled(): Promise<void> {
    await this.#committing;
  }

  /**
   * Commits now; coalesces with a round in progress. Never rejects (a failed round is logged and retried).
   *
   * When no round is in progress, `consumer.commit(...)` is called synchronously, before this returns (the test
   * driver relies on it: a synchronous in-memory commit is visible right after the call); keep it so.
   */
  commitNow(): Promise<void> {
    if (this.#committing) {
      this.#again = true;
      return this.#committing;
    }
    this.#committing = (async () => {
      do {
        this.#again = false;
        await this.#round();
      } while (this.#again);
    })().finally(() => {
      this.#committing = undefined;
    });
    return this.#committing;
  }

  async #round(): Promise<void> {
    this.#deps.beforeRound();
    const plan: { tracker: PartitionTracker; offset: bigint }[] = [];
    for (const tracker of this.#deps.trackers()) {
      const offset = tracker.committable();
      if (offset !== undefined) plan.push({ tracker, offset });
    }
    if (plan.length === 0) return;
    const clock = this.#clock;
    const started = clock.now();
    try {
      await this.#deps.consumer.commit(
        plan.map(({ tracker, offset }) => ({ topic: tracker.topic, partition: tracker.partition, offset })),
      );
    } catch (error) {
      this.#deps.done((clock.now() - started) / 1000, false);
      this.#deps.log.warn(
        { err: error, partitions: plan.length },
        `offset commit failed (retried next round): ${errorMessage(error)}`,
      );
      return;
    }
    this.#deps.done((clock.now() - started) / 1000, true);
    for (const { tracker, offset } of plan) {
      tracker.markCommitted(offset);
      this.#deps.committed(tracker, offset);
    }
  }
}
