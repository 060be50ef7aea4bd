/**
 * The test driver's clock: an RxJS `VirtualTimeScheduler` whose time only moves when the driver is told to
 * (`driver.advanceTime(ms)`). Pass it as the `scheduler` of every timed operator (`retryWithBackoff`, `sink`,
 * `timeout`, `delay`, ...) so backoff waits and timeouts run in virtual time; use `clock.now()` instead of
 * `Date.now()` for timestamps and durations so they are deterministic too.
 */
import { VirtualTimeScheduler } from 'rxjs';
import type { CancelTimer, Clock } from '../clock.js';

/** 2024-01-01T00:00:00.000Z: the default start of virtual time (so record timestamps look like real ones). */
export const DEFAULT_START_TIME = Date.UTC(2024, 0, 1);

/**
 * A virtual-time scheduler. Time is milliseconds since the epoch; timers scheduled on it run only when the driver
 * advances the clock past them (or settles work that is due now).
 */
export class TestClock extends VirtualTimeScheduler implements Clock {
  /** The work of `setInterval` timers (the engine's commit loop and watchdog): they recur for ever. */
  readonly #recurring = new WeakSet<object>();

  constructor(startTime: number = DEFAULT_START_TIME) {
    super();
    if (!Number.isFinite(startTime))
      throw new TypeError(`TestClock: startTime must be a finite number, got ${startTime}`);
    this.frame = startTime;
  }

  /** Calls `fn` once, `ms` of virtual time from now (the engine's timers, when the driver runs it). */
  setTimeout(fn: () => void, ms: number): CancelTimer {
    const action = this.schedule(() => fn(), Math.max(0, ms));
    return () => action.unsubscribe();
  }

  /** Calls `fn` every `ms` of virtual time until cancelled. */
  setInterval(fn: () => void, ms: number): CancelTimer {
    const period = Math.max(1, ms);
    const tick = function (this: { schedule(state?: unknown, delay?: number): unknown }) {
      fn();
      this.schedule(undefined, period);
    };
    this.#recurring.add(tick);
    const action = this.schedule(tick, period);
    return () => action.unsubscribe();
  }

  /** Timers scheduled and not run yet (cancelled ones are removed by RxJS when they unsubscribe). */
  get pendingTimers(): number {
    return this.actions.length;
  }

  /**
   * When the earliest pending timer is due, or undefined when none is pending. With `oneShot`, timers started by
   * `setInterval` (the engine's commit loop and watchdog, which recur for ever) are left out.
   */
  nextTimerAt(options: { oneShot?: boolean } = {}): number | undefined {
    if (!options.oneShot) return this.actions[0]?.delay;
    return this.actions.find((action) => !this.#recurring.has((action as unknown as { work: object }).work))?.delay;
  }

  /** Runs every timer due at the current time (or earlier), in due order; returns how many ran. Does not move the clock. */
  runDue(): number {
    const now = this.frame;
    let ran = 0;
    for (;;) {
      const action = this.actions[0];
      if (action === undefined || action.delay > now) break;
      if (ran >= 10_000) {
        throw new Error(`TestClock: timers keep rescheduling themselves at ${now} (an interval(0)?)`);
      }
      this.actions.shift();
      this.frame = action.delay;
      ran++;
      const error: unknown = action.execute(action.state, action.delay);
      if (error) {
        this.frame = now;
        throw error;
      }
    }
    this.frame = now;
    return ran;
  }

  /** Moves the clock forward to `time` without running anything (the driver runs timers step by step). */
  moveTo(time: number): void {
    if (time > this.frame) this.frame = time;
  }
}
