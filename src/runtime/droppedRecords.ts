/**
 * Finishes records that the operator chain let go of without an outcome — a plain RxJS `filter`, `take`, `distinct`,
 * `sample`, a `mergeMap` returning `EMPTY` — as `filtered`, so they never hold their partition's commit.
 *
 * How it knows: the chain is the only holder of a record's ticket (the offset tracker keeps the ticket's entry, not
 * the ticket). A `FinalizationRegistry` learns when a ticket was garbage-collected; if its entry is unfinished then,
 * nothing can finish it any more, so it is finished here. Garbage collection runs when V8 wants, so a watchdog
 * (`nudge`) asks for a collection when a record has stayed unfinished for a while: a dropped record is finished
 * within about `nudgeAfterMs` plus one watchdog period, however idle the process is.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { AdmittedOffset, TrackedTicket } from '../offsets/partitionTracker.js';

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
  readonly #registry: FinalizationRegistry<AdmittedOffset>;
  #lastNudge = 0;
  #stopped = false;

  /** `dropped` is called for each record finished here, after it was finished as `filtered`. */
  constructor(dropped: (entry: AdmittedOffset) => void) {
    this.#registry = new FinalizationRegistry((entry) => {
      // a revoked partition's records are redelivered to its owner: nothing to finish or count for this run
      if (this.#stopped || entry.finished || entry.tracker.revoked) return;
      entry.finish('filtered');
      dropped(entry);
    });
  }

  /**
   * Finishes nothing from now on: the chain completed or the run ends, so records it holds were not let go of by a
   * stage — they were never processed, and stay uncommitted for the partition's next run.
   */
  stop(): void {
    this.#stopped = true;
  }

  watch(ticket: TrackedTicket): void {
    this.#registry.register(ticket, ticket.entry);
  }

  /**
   * Called by the watchdog with the age of the oldest unfinished record: collects garbage (at most once per
   * `nudgeAfterMs`) when that record is older than `nudgeAfterMs`, so a dropped one is found.
   */
  nudge(oldestAgeMs: number, nudgeAfterMs: number, now = performance.now()): void {
    if (oldestAgeMs < nudgeAfterMs || now - this.#lastNudge < nudgeAfterMs) return;
    this.#lastNudge = now;
    collectGarbage();
  }
}
