/**
 * Finishes records that the operator chain let go of without an outcome — a plain RxJS `filter`, `take`, `distinct`,
 * `sample`, a `mergeMap` returning `EMPTY` — as `filtered`, so they never hold their partition's commit.
 *
 * How it knows: the chain is the only holder of a record's ticket (the offset tracker keeps the ticket's entry, not
 * the ticket). Tickets are watched in groups: every ticket of a group holds the group's token, and a
 * `FinalizationRegistry` learns when the token was garbage-collected, i.e. when no ticket of the group is held any
 * more. Any entry of the group still unfinished then can never be finished by anything else, so it is finished here.
 * One registration per group rather than per record keeps the cost off the hot path (a registration per record cost
 * about 1.5 µs). A group closes after `GROUP_SIZE` records or at the next watchdog tick, whichever comes first.
 *
 * Garbage collection runs when V8 wants, so the watchdog (`nudge`) asks for a collection when a record has stayed
 * unfinished for a while: a dropped record is finished within about `nudgeAfterMs` plus one watchdog period after the
 * other records of its group left the chain, however idle the process is.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { type Clock, systemClock } from '../clock.js';
import type { AdmittedOffset, TrackedTicket } from '../offsets/partitionTracker.js';

const GROUP_SIZE = 64;

let collect: (() => void) | undefined;

/** A full garbage collection, so finalizers run. `--expose-gc` is turned on for this one function if not given. */
function collectGarbage(): void {
  if (collect === undefined) {
    const exposed = (globalThis as { gc?: () => void }).gc;
    if (exposed !== undefined) collect = exposed;
    else {
      setFlagsFromString('--expose-gc');
      collect = runInNewContext('gc') as () => void;
    }
  }
  collect();
}

export class DroppedRecords {
  readonly #registry: FinalizationRegistry<AdmittedOffset[]>;
  readonly #clock: Clock;
  #token: object | undefined;
  #entries: AdmittedOffset[] = [];
  #lastNudge = Number.NEGATIVE_INFINITY;
  #stopped = false;

  /**
   * `dropped` is called for each record finished here, after it was finished as `filtered`. `clock` spaces the
   * garbage collections `nudge` asks for (default: the system clock).
   */
  constructor(dropped: (entry: AdmittedOffset) => void, clock: Clock = systemClock) {
    this.#clock = clock;
    this.#registry = new FinalizationRegistry((entries) => {
      for (const entry of entries) {
        // a revoked partition's records are redelivered to its owner: nothing to finish or count for this run
        if (this.#stopped || entry.finished || entry.tracker.revoked) continue;
        entry.finish('filtered');
        dropped(entry);
      }
    });
  }

  /**
   * Finishes nothing from now on: the chain completed or the run ends, so records it holds were not let go of by a
   * stage — they were never processed, and stay uncommitted for the partition's next run.
   */
  stop(): void {
    this.#stopped = true;
    this.closeGroup();
  }

  watch(ticket: TrackedTicket): void {
    if (this.#token === undefined || this.#entries.length >= GROUP_SIZE) {
      this.#token = {};
      this.#entries = [];
      this.#registry.register(this.#token, this.#entries);
    }
    ticket.holds = this.#token;
    this.#entries.push(ticket.entry);
  }

  /** Lets go of the open group, so only its tickets keep its token alive. */
  closeGroup(): void {
    this.#token = undefined;
    this.#entries = [];
  }

  /**
   * Called by the watchdog with the age of the oldest unfinished record: closes the open group, and collects garbage
   * (at most once per `nudgeAfterMs`) when that record is older than `nudgeAfterMs`, so a dropped one is found.
   */
  nudge(oldestAgeMs: number, nudgeAfterMs: number, now = this.#clock.now()): void {
    this.closeGroup();
    if (oldestAgeMs < nudgeAfterMs || now - this.#lastNudge < nudgeAfterMs) return;
    this.#lastNudge = now;
    collectGarbage();
  }
}
