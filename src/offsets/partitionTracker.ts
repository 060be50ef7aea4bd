/**
 * Per-partition offset tracking for at-least-once commits with out-of-order completion. Records are admitted in
 * offset order; they may finish in any order. The committable offset is the lowest unfinished offset, or — when
 * nothing is unfinished — the end of what was fetched (so transactional control records and compaction gaps do
 * not hold lag above zero). A revoked tracker is fenced: it never yields a committable offset again.
 *
 * The tracker keeps an `AdmittedOffset` per record; the chain holds the record's `TrackedTicket`, a handle on it that
 * nothing else references. So when the chain lets go of a record without an outcome (a plain RxJS `filter`), its
 * ticket becomes garbage while its entry stays unfinished: `DroppedRecords` watches tickets for exactly that.
 */
import type { Outcome, RecordTicket, SettledOutcome } from '../envelope.js';

export type FinishListener = (entry: AdmittedOffset, outcome: Outcome) => void;

/** The tracker's record of one admitted offset. */
export class AdmittedOffset {
  readonly offset: bigint;
  readonly admittedAt: number;
  readonly tracker: PartitionTracker;
  finished = false;
  settled: SettledOutcome | undefined;
  /** The last Tributary stage that emitted the record (for the stuck-record warning). */
  lastStage: string | undefined;
  readonly #onFinish: FinishListener;

  constructor(tracker: PartitionTracker, offset: bigint, admittedAt: number, onFinish: FinishListener) {
    this.tracker = tracker;
    this.offset = offset;
    this.admittedAt = admittedAt;
    this.#onFinish = onFinish;
  }

  finish(outcome: Outcome): void {
    if (this.finished) return;
    this.finished = true;
    this.tracker.noteFinished(this);
    this.#onFinish(this, outcome);
  }
}

/** The chain's handle on an admitted record (its `RecordTicket`). */
export class TrackedTicket implements RecordTicket {
  readonly entry: AdmittedOffset;
  /** What the ticket keeps reachable while the chain holds it (DroppedRecords' group token). */
  holds: object | undefined;

  constructor(entry: AdmittedOffset) {
    this.entry = entry;
  }

  get finished(): boolean {
    return this.entry.finished;
  }

  get settled(): SettledOutcome | undefined {
    return this.entry.settled;
  }

  get abandoned(): boolean {
    return this.entry.tracker.revoked;
  }

  finish(outcome: Outcome): void {
    this.entry.finish(outcome);
  }

  settle(outcome: SettledOutcome): void {
    if (!this.entry.finished) this.entry.settled = outcome;
  }
}

export class PartitionTracker {
  readonly topic: string;
  readonly partition: number;
  #pending: AdmittedOffset[] = [];
  #head = 0;
  #unfinished = 0;
  #highestAdmitted = -1n;
  #fetchedEnd = -1n;
  #committed = -1n;
  #revoked = false;

  constructor(topic: string, partition: number) {
    this.topic = topic;
    this.partition = partition;
  }

  get revoked(): boolean {
    return this.#revoked;
  }

  /** Records admitted and not finished yet. */
  get unfinished(): number {
    return this.#unfinished;
  }

  /**
   * Entries kept: the oldest unfinished record and everything admitted after it, finished or not. What a stuck head
   * costs in memory; admission pauses the partition when it passes a limit.
   */
  get retained(): number {
    return this.#pending.length - this.#head;
  }

  /** The oldest unfinished record, if any. */
  oldestUnfinished(): AdmittedOffset | undefined {
    this.#dropFinishedPrefix();
    return this.#pending[this.#head];
  }

  /** The records admitted and not finished yet, in ascending offset order. */
  *unfinishedEntries(): IterableIterator<AdmittedOffset> {
    const pending = this.#pending;
    for (let i = this.#head; i < pending.length; i++) {
      const entry = pending[i] as AdmittedOffset;
      if (!entry.finished) yield entry;
    }
  }

  /** The last offset committed through this tracker (next offset to read), or -1. */
  get committed(): bigint {
    return this.#committed;
  }

  /** The offset after everything this tracker admitted or was told was fetched (-1 before anything). */
  get fetchedEnd(): bigint {
    return this.#highestAdmitted + 1n > this.#fetchedEnd ? this.#highestAdmitted + 1n : this.#fetchedEnd;
  }

  /** False for an offset this tracker already admitted (a re-delivery after a rejoin): skip it. */
  accepts(offset: bigint): boolean {
    return !this.#revoked && offset > this.#highestAdmitted;
  }

  admit(offset: bigint, admittedAt: number, onFinish: FinishListener): TrackedTicket {
    if (!this.accepts(offset)) {
      throw new Error(`offset ${offset} of ${this.topic}/${this.partition} admitted twice or after revoke`);
    }
    const entry = new AdmittedOffset(this, offset, admittedAt, onFinish);
    this.#pending.push(entry);
    this.#highestAdmitted = offset;
    this.#unfinished++;
    return new TrackedTicket(entry);
  }

  /**
   * Called by an entry when it finishes. When it is the oldest pending one, the finished prefix is dropped at once
   * rather than at the next commit, so finished entries do not stay alive (and get promoted by the GC) for a commit
   * interval.
   */
  noteFinished(entry: AdmittedOffset): void {
    this.#unfinished--;
    if (this.#pending[this.#head] === entry) this.#dropFinishedPrefix();
  }

  #dropFinishedPrefix(): void {
    const pending = this.#pending;
    let head = this.#head;
    while (head < pending.length && pending[head]?.finished) head++;
    if (head === pending.length) {
      this.#pending = [];
      this.#head = 0;
    } else if (head > 1024 && head * 2 > pending.length) {
      this.#pending = pending.slice(head);
      this.#head = 0;
    } else {
      this.#head = head;
    }
  }

  /** Every record of a fetched batch up to `endOffset` (exclusive) was admitted or skipped as already admitted. */
  fetchedUpTo(endOffset: bigint): void {
    if (endOffset > this.#fetchedEnd) this.#fetchedEnd = endOffset;
  }

  /** The offset to commit now (next offset to read), or undefined when there is nothing new to commit. */
  committable(): bigint | undefined {
    if (this.#revoked) return undefined;
    this.#dropFinishedPrefix();
    let next: bigint;
    const lowestUnfinished = this.#pending[this.#head];
    if (lowestUnfinished !== undefined) {
      next = lowestUnfinished.offset;
    } else {
      if (this.#highestAdmitted < 0n && this.#fetchedEnd < 0n) return undefined;
      next = this.fetchedEnd;
    }
    return next > this.#committed ? next : undefined;
  }

  markCommitted(offset: bigint): void {
    if (offset > this.#committed) this.#committed = offset;
  }

  /** The partition was taken away: fence it. Late completions still release credit but are never committed. */
  revoke(): void {
    this.#revoked = true;
  }
}
