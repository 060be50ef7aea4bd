/**
 * Time and timers as the engine sees them, injectable so that the test driver runs the real runtime on virtual time.
 * The engine reads time only through a `Clock` and starts timers only through one; `systemClock` is the real one.
 */

/** Cancels a timer started by a {@link Clock}; calling it again does nothing. */
export type CancelTimer = () => void;

export interface Clock {
  /** Milliseconds. Only differences are meaningful (the system clock answers `performance.now()`). */
  now(): number;
  /** Calls `fn` once, `ms` from now. A pending timer never keeps the process alive. */
  setTimeout(fn: () => void, ms: number): CancelTimer;
  /** Calls `fn` every `ms` until cancelled. A pending timer never keeps the process alive. */
  setInterval(fn: () => void, ms: number): CancelTimer;
}

/** The real clock: `performance.now()` and Node's timers, unref'd. */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout(fn, ms) {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return () => clearTimeout(timer);
  },
  setInterval(fn, ms) {
    const timer = setInterval(fn, ms);
    timer.unref();
    return () => clearInterval(timer);
  },
};

/** Resolves after `ms` on `clock`. */
export function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise<void>((done) => {
    clock.setTimeout(done, ms);
  });
}
