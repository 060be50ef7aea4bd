/**
 * Supervises one pipeline: start → (crash → backoff → restart)* → stop (drain, commit, disconnect) or abort. Each
 * start creates a fresh `PipelineRun`; a signal from a run that is no longer current is ignored, so no generation
 * counters. A chain that completes (e.g. `take(10)`) stops the pipeline cleanly; it is never restarted.
 */
import type { Logger } from 'pino';
import { backoffDelay } from '../backoff.js';
import { type CancelTimer, type Clock, systemClock } from '../clock.js';
import { errorMessage, TributaryError } from '../errors.js';
import type { TopicPartition, TopicPartitionOffset } from '../kafka/ports.js';
import type { Pipeline } from './definePipeline.js';
import { PipelineRun, type RunDeps, type UnfinishedOffset } from './pipelineRun.js';

export type RunnerState =
  | 'idle'
  | 'starting'
  | 'running'
  | 'restarting'
  | 'stopping'
  | 'stopped'
  | 'completed'
  | 'failed';

export type RunnerDeps = RunDeps;

/** The crash backoff: 0.5 s doubling to 30 s. */
export function crashBackoffMs(crashes: number): number {
  return backoffDelay(crashes, 500, 30_000);
}

/** A restarted run that stayed up this long without crashing resets the backoff. */
export const HEALTHY_AFTER_MS = 60_000;

export class PipelineRunner {
  readonly pipeline: Pipeline;
  readonly #deps: RunnerDeps;
  readonly #log: Logger;
  readonly #clock: Clock;
  #state: RunnerState = 'idle';
  #current: PipelineRun | undefined;
  #crashes = 0;
  #restarting: Promise<void> | undefined;
  #stopRequested = false;
  #warnedDropped = false;
  #stopWatchdogTimer: CancelTimer | undefined;
  #failure: string | undefined;
  /** Ends the crash backoff early (a stop during the backoff must not wait up to 30 s; `restartNow()`). */
  #wakeFromBackoff: (() => void) | undefined;
  /** Between a crash and the end of its backoff (closing the failed run, then waiting). */
  #crashHandling = false;
  /** `restartNow()` came before the backoff began: skip it. */
  #skipBackoff = false;

  constructor(pipeline: Pipeline, deps: RunnerDeps) {
    this.pipeline = pipeline;
    this.#deps = deps;
    this.#clock = deps.clock ?? systemClock;
    this.#log = deps.logger.child({ pipeline: pipeline.name, groupId: pipeline.source.groupId });
  }

  get state(): RunnerState {
    return this.#state;
  }

  get inFlight(): number {
    return this.#current?.inFlight ?? 0;
  }

  /** Running, joined to its group, and making progress. */
  get ready(): boolean {
    return this.notReadyReason === undefined;
  }

  /** Why the pipeline is not ready, or undefined when it is. */
  get notReadyReason(): string | undefined {
    if (this.#state !== 'running') {
      if (this.#state === 'completed') return 'stopped: its operator chain completed';
      if (this.#state === 'restarting' && this.#failure) return `restarting after a crash: ${this.#failure}`;
      return this.#state;
    }
    return this.#current === undefined ? 'not started' : this.#current.notReadyReason;
  }

  get assignment(): readonly TopicPartition[] {
    return this.#current?.assignment ?? [];
  }

  get pausedPartitions(): number {
    return this.#current?.pausedPartitions ?? 0;
  }

  /**
   * The records the current run holds, per partition in ascending offset order: admitted and not finished
   * (`in-flight`), or parked by the second line of backpressure and not admitted yet (`waiting`). Empty without a
   * run, and once the run is closed (crashed, stopped): its records are consumed again from the committed offsets.
   */
  unfinished(): UnfinishedOffset[] {
    return this.#current?.unfinished() ?? [];
  }

  /**
   * Per partition the current run owns, the offset a commit now would leave the group at (what its tracker would
   * commit, else what it committed last); partitions with neither are left out, as is everything of a closed run.
   */
  committable(): TopicPartitionOffset[] {
    return this.#current?.committable() ?? [];
  }

  /**
   * Commits the current run's finished offsets now (its commit loop's `commitNow()`: the client's commit is called
   * synchronously unless a round is in progress). Resolves at once without a run. Never rejects.
   */
  commitNow(): Promise<void> {
    return this.#current?.commitNow() ?? Promise.resolve();
  }

  /**
   * Ends a crash backoff at once: the restart happens right away. Called after a crash but before its backoff began
   * (the failed run is still closing), the backoff is skipped. A no-op otherwise (no crash being handled, or a stop
   * requested). For the test driver.
   */
  restartNow(): void {
    if (!this.#crashHandling || this.#stopRequested) return;
    if (this.#wakeFromBackoff) this.#wakeFromBackoff();
    else this.#skipBackoff = true;
  }

  async start(): Promise<void> {
    if (this.#state !== 'idle')
      throw new Error(`pipeline ${this.pipeline.name} cannot start from state ${this.#state}`);
    this.#state = 'starting';
    let run: PipelineRun;
    try {
      run = await this.#startRun();
    } catch (error) {
      this.#state = 'failed';
      throw error;
    }
    this.#state = 'running';
    this.#startWatchdog();
    this.#log.info({ topics: this.pipeline.source.topics, ordering: this.pipeline.ordering }, 'pipeline started');
    if (run.failure)
      this.#crash(run, run.failure.error); // it failed while starting
    else if (run.chainCompleted) this.#completed(run); // its chain completed while starting
  }

  /** Creates and starts a fresh run; a run that fails to start is closed before the error propagates. */
  async #startRun(): Promise<PipelineRun> {
    const run: PipelineRun = new PipelineRun(this.pipeline, this.#deps, {
      crashed: (error) => this.#crash(run, error),
      completed: () => this.#completed(run),
      dropped: (entry) => {
        if (this.#warnedDropped) return;
        this.#warnedDropped = true;
        this.#log.warn(
          { topic: entry.tracker.topic, partition: entry.tracker.partition, offset: entry.offset.toString() },
          `pipeline ${this.pipeline.name}: a stage let go of a record without an outcome (a plain RxJS filter, take, sample, EMPTY…); it is finished as 'filtered' and committed. Counted in tributary_records_processed_total{outcome="filtered"}; this warning is shown once`,
        );
      },
    });
    this.#current = run;
    try {
      await run.start();
    } catch (error) {
      await run.close(false);
      throw error;
    }
    return run;
  }

  #startWatchdog(): void {
    if (this.#stopWatchdogTimer) return;
    const period = Math.max(100, Math.min(5_000, Math.floor(this.pipeline.stuckAfterMs / 2)));
    this.#stopWatchdogTimer = this.#clock.setInterval(() => this.#current?.watch(), period);
  }

  #stopWatchdog(): void {
    this.#stopWatchdogTimer?.();
    this.#stopWatchdogTimer = undefined;
  }

  /** Stop admitting, drain in-flight records (up to drainTimeoutMs), commit, disconnect. */
  async stop(drainTimeoutMs = this.pipeline.drainTimeoutMs): Promise<void> {
    this.#stopRequested = true;
    this.#wakeFromBackoff?.();
    if (this.#restarting) await this.#restarting;
    const run = this.#current;
    if (run === undefined || this.#state === 'stopped' || this.#state === 'completed' || this.#state === 'failed') {
      if (this.#state !== 'completed') this.#state = 'stopped';
      this.#stopWatchdog();
      return;
    }
    this.#state = 'stopping';
    run.stopAdmitting();
    if (!(await run.drained(drainTimeoutMs))) {
      const error = new TributaryError(
        'TRIBUTARY_ERR_SHUTDOWN_TIMEOUT',
        `${run.inFlight} records still in flight after ${drainTimeoutMs} ms; they are re-delivered after restart`,
      );
      this.#log.warn({ err: error, code: error.code }, error.message);
    }
    await run.close(true);
    this.#stopWatchdog();
    this.#state = 'stopped';
    this.#log.info('pipeline stopped');
  }

  /** Stops at once: no drain, no final commit (what a crash looks like to Kafka, minus the session timeout). */
  async abort(): Promise<void> {
    this.#stopRequested = true;
    this.#wakeFromBackoff?.();
    if (this.#restarting) await this.#restarting;
    this.#stopWatchdog();
    if (this.#state !== 'completed') this.#state = 'stopping';
    await this.#current?.close(false);
    if (this.#state !== 'completed') this.#state = 'stopped';
  }

  /**
   * The chain completed: stop cleanly (commit what finished, leave the group); never restart. Records admitted but
   * not finished when it completed stay uncommitted: the next deployment of the pipeline processes them. A run
   * whose chain completes while it is being started is noticed when its start returns (`run.chainCompleted`).
   */
  #completed(run: PipelineRun): void {
    if (run !== this.#current || this.#stopRequested || this.#state !== 'running') return;
    this.#supervise(this.#endCompleted(run));
  }

  async #endCompleted(run: PipelineRun): Promise<void> {
    this.#log.warn(
      `pipeline ${this.pipeline.name}: its operator chain completed (an operator such as take() or first() ends the stream); the pipeline stops and is not restarted`,
    );
    this.#state = 'completed';
    // nothing can leave a completed chain any more: commit what finished and leave the group at once
    await run.close(true);
    this.#stopWatchdog();
  }

  /**
   * A run failed (the chain errored, or the consumer crashed for good): close it (committing what is finished) and
   * start a new one from the committed offsets after a backoff that grows until a run stays healthy. A run that fails
   * while being started is noticed when its start returns (`run.failure`), never ignored.
   */
  #crash(run: PipelineRun, error: unknown): void {
    // while a crash is handled the state is 'restarting' (a restarted run that failed while starting is looked at by
    // the loop itself); once the loop set 'running' again, a crash of its run is a new crash, even before the loop's
    // promise has settled
    if (run !== this.#current || this.#stopRequested || this.#state !== 'running') return;
    this.#state = 'restarting';
    this.#supervise(this.#restartLoop(run, error));
  }

  /** Keeps the supervisor's work on a crash or a completion where `stop()` and `abort()` wait for it. */
  #supervise(work: Promise<void>): void {
    const tracked: Promise<void> = work.finally(() => {
      // a crash right after a restart started the next work before this one settled: leave that one in place
      if (this.#restarting === tracked) this.#restarting = undefined;
    });
    this.#restarting = tracked;
  }

  /** The `crashed` hook; one that throws is logged, never allowed to end the restart loop. */
  #tellCrashed(cause: unknown): void {
    try {
      this.#deps.crashed?.(this.pipeline.name, cause);
    } catch (error) {
      this.#log.error({ err: error }, `the crashed hook threw: ${errorMessage(error)}`);
    }
  }

  async #restartLoop(failedRun: PipelineRun, error: unknown): Promise<void> {
    let run = failedRun;
    let cause = error;
    for (;;) {
      this.#crashHandling = true;
      if (this.#clock.now() - run.startedAt >= HEALTHY_AFTER_MS) this.#crashes = 0;
      this.#crashes++;
      this.#failure = errorMessage(cause);
      this.#tellCrashed(cause);
      await run.close(true);
      const delay = crashBackoffMs(this.#crashes);
      const wrapped = new TributaryError(
        'TRIBUTARY_ERR_PIPELINE_CRASHED',
        `pipeline ${this.pipeline.name} crashed: ${errorMessage(cause)}; restarting in ${delay} ms from committed offsets`,
        { cause },
      );
      this.#log.error({ err: cause, code: wrapped.code, crashes: this.#crashes }, wrapped.message);
      // a stop (or restartNow) that came while the failed run was closing found no backoff to end: skip it
      if (!this.#skipBackoff && !this.#stopRequested) {
        await new Promise<void>((done) => {
          const cancel = this.#clock.setTimeout(done, delay);
          this.#wakeFromBackoff = () => {
            cancel();
            done();
          };
        });
      }
      this.#wakeFromBackoff = undefined;
      this.#skipBackoff = false;
      this.#crashHandling = false;
      if (this.#stopRequested) {
        this.#state = 'stopped';
        return;
      }
      try {
        run = await this.#startRun();
      } catch (startError) {
        cause = startError;
        continue;
      }
      if (run.failure) {
        // it failed while starting: its crash signal came while this loop was busy
        cause = run.failure.error;
        continue;
      }
      if (this.#stopRequested) return; // stop() waits for this loop, then stops the new run
      this.#failure = undefined;
      if (run.chainCompleted) {
        await this.#endCompleted(run); // its chain completed while starting
        return;
      }
      this.#state = 'running';
      return;
    }
  }
}
