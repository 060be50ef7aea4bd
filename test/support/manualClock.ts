/**
 * A `Clock` whose time moves only when a test says so: the engine's timers then fire at exact, fake times, and
 * their length never becomes test time. `advance(ms)` runs each timer due on the way at its own time, in order, and
 * lets the promise work it started settle (a macrotask turn) before the next one.
 */
import type { CancelTimer, Clock } from '../../src/clock.js';

interface Timer {
  at: number;
  readonly fn: () => void;
  /** The period of an interval; undefined for a one-shot timer. */
  readonly every: number | undefined;
}

/** Lets pending promise work (and anything queued with setImmediate before this) run. */
export const settle = (): Promise<void> => new Promise((done) => setImmediate(done));

export class ManualClock implements Clock {
  #now: number;
  #timers: Timer[] = [];

  constructor(start = 0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): CancelTimer {
    return this.#add(fn, Math.max(0, ms), undefined);
  }

  setInterval(fn: () => void, ms: number): CancelTimer {
    return this.#add(fn, Math.max(1, ms), Math.max(1, ms));
  }

  /** Timers started and neither fired (one-shot) nor cancelled. */
  get pending(): number {
    return this.#timers.length;
  }

  /** When the earliest pending timer is due, or undefined. */
  nextAt(): number | undefined {
    return this.#timers[0]?.at;
  }

  /** Moves time forward by `ms`, firing each timer due on the way at its own time and settling after each. */
  async advance(ms: number): Promise<void> {
    const end = this.#now + ms;
    await settle();
    for (;;) {
      const timer = this.#timers[0];
      if (timer === undefined || timer.at > end) break;
      this.#timers.shift();
      this.#now = timer.at;
      if (timer.every !== undefined) {
        timer.at += timer.every;
        this.#insert(timer);
      }
      timer.fn();
      await settle();
    }
    this.#now = end;
  }

  #add(fn: () => void, delay: number, every: number | undefined): CancelTimer {
    const timer: Timer = { at: this.#now + delay, fn, every };
    this.#insert(timer);
    return () => {
      this.#timers = this.#timers.filter((t) => t !== timer);
    };
  }

  /** Keeps timers ordered by due time, then by the order they were (re)scheduled. */
  #insert(timer: Timer): void {
    let i = this.#timers.length;
    while (i > 0 && (this.#timers[i - 1] as Timer).at > timer.at) i--;
    this.#timers.splice(i, 0, timer);
  }
}
