/**
 * The engine's one backoff rule, for every loop that retries until something works (the producer's sends and session
 * resets, dead-letter writes, a crashed pipeline's restart, a worker's restart): the wait doubles from a first delay
 * up to a ceiling. Operators have their own, configurable one (`retryWithBackoff`, with jitter).
 */
import { type Clock, sleep } from './clock.js';

/** The wait before retry number `attempt` (1, 2, ...): `initialMs` doubling each time, at most `maxMs`. */
export function backoffDelay(attempt: number, initialMs: number, maxMs: number): number {
  return Math.min(maxMs, initialMs * 2 ** Math.max(0, Math.min(attempt - 1, 30)));
}

export interface RetryUntilOptions {
  /** The first wait, in milliseconds. */
  readonly initialMs: number;
  /** The longest wait, in milliseconds. */
  readonly maxMs: number;
  /** The clock the waits run on. */
  readonly clock: Clock;
  /** Checked before each try: once true, no more tries. */
  readonly stopped: () => boolean;
  /** Told of each failure and the wait before the next try (to log it). */
  readonly onError: (error: unknown, retryInMs: number) => void;
}

/**
 * Calls `fn` until it resolves, waiting {@link backoffDelay} between tries. Resolves with `fn`'s result, or with
 * `undefined` once `stopped()` says to give up.
 */
export async function retryUntil<T>(fn: () => Promise<T>, options: RetryUntilOptions): Promise<T | undefined> {
  const { initialMs, maxMs, clock, stopped, onError } = options;
  for (let attempt = 1; !stopped(); attempt++) {
    try {
      return await fn();
    } catch (error) {
      const delay = backoffDelay(attempt, initialMs, maxMs);
      onError(error, delay);
      await sleep(clock, delay);
    }
  }
  return undefined;
}
