/**
 * The admission limit of a pipeline: at most `limit` records are admitted and unfinished at once. The source awaits
 * capacity before admitting the next record, which holds back kafkajs' fetch loop — that is the backpressure.
 */
import { type Clock, systemClock } from '../clock.js';

export class AdmissionGate {
  readonly limit: number;
  readonly #clock: Clock;
  #inFlight = 0;
  #waiters: (() => void)[] = [];
  #idleWaiters: (() => void)[] = [];

  /** `clock` times the waits' timeouts (default: the system clock). */
  constructor(limit: number, clock: Clock = systemClock) {
    this.limit = limit;
    this.#clock = clock;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  tryAcquire(): boolean {
    if (this.#inFlight >= this.limit) return false;
    this.#inFlight++;
    return true;
  }

  release(): void {
    this.#inFlight--;
    const waiter = this.#waiters.shift();
    waiter?.();
    if (this.#inFlight === 0) this.#wakeIdle();
  }

  /** Resolves when capacity may be free (a release happened), or after `timeoutMs`, or on `wakeAll()`. */
  waitForCapacity(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const cancel = this.#clock.setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== done);
        resolve();
      }, timeoutMs);
      const done = () => {
        cancel();
        resolve();
      };
      this.#waiters.push(done);
    });
  }

  /** Wakes every waiter (used when the pipeline stops admitting). */
  wakeAll(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  /** Resolves when nothing is in flight, or after `timeoutMs` (then resolves false). */
  idle(timeoutMs: number): Promise<boolean> {
    if (this.#inFlight === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const cancel = this.#clock.setTimeout(() => {
        this.#idleWaiters = this.#idleWaiters.filter((w) => w !== done);
        resolve(false);
      }, timeoutMs);
      const done = () => {
        cancel();
        resolve(true);
      };
      this.#idleWaiters.push(done);
    });
  }

  #wakeIdle(): void {
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiters) w();
  }
}
