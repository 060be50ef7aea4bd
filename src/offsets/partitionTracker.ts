/**
 * Per-partition offset tracking for at-least-once commits with out-of-order completion. Records are admitted in
 * offset order; they may finish in any order. The committable offset is the lowest unfinished offset, or — when
 * nothing is unfinished — the end of what was fetched (so transactional control records and compaction gaps do
 * not hold lag above zero). A revoked tracker is fenced: it never yields a committable offset again.
 */
import type { Outcome, RecordTicket, SettledOutcome } from '../envelope.js';

export type FinishListener = (ticket: TrackedTicket, outcome: Outcome) => void;

export class TrackedTicket implements RecordTicket {
  readonly offset: bigint;
  readonly admittedAt: number;
  readonly tracker: PartitionTracker;
  #finished = false;
  readonly #onFinish: FinishListener;

  constructor(tracker: PartitionTracker, offset: bigint, admittedAt: number, onFinish: FinishListener) {
    this.tracker = tracker;
    this.offset = offset;
    this.admittedAt = admittedAt;
    this.#onFinish = onFinish;
  }

  get finished(): boolean {
    return this.#finished;
  }

  get abandoned(): boolean {
    return this.tracker.revoked;
  }

  #settled: SettledOutcome | undefined;

  get settled(): SettledOutcome | undefined {
    return this.#settled;
  }

  settle(outcome: SettledOutcome): void {
    if (!this.#finished) this.#settled = outcome;
  }

  finish(outcome: Outcome): void {
    if (this.#finished) return;
    this.#finished = true;
    this.tracker.noteFinished(this);
    this.#onFinish(this, outcome);
  }
}

export class PartitionTracker {
  readonly topic: string;
  readonly partition: number;
  #pending: TrackedTicket[] = [];
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

  /** The last offset committed through this tracker (next offset to read), or -1. */
  get committed(): bigint {
    return this.#committed;
  }

  /** False for an offset this tracker already admitted (a re-delivery after a rejoin): skip it. */
  accepts(offset: bigint): boolean {
    return !this.#revoked && offset > this.#highestAdmitted;
  }

  admit(offset: bigint, admittedAt: number, onFinish: FinishListener): TrackedTicket {
    if (!this.accepts(offset)) {
      throw new Error(`offset ${offset} of ${this.topic}/${this.partition} admitted twice or after revoke`);
    }
    const ticket = new TrackedTicket(this, offset, admittedAt, onFinish);
    this.#pending.push(ticket);
    this.#highestAdmitted = offset;
    this.#unfinished++;
    return ticket;
  }

  /**
   * Called by a ticket when it finishes. When it is the oldest pending one, the finished prefix is dropped at once:
   * keeping finished tickets until the next commit kept a second's worth of them alive (and promoted by the GC).
   */
  noteFinished(ticket: TrackedTicket): void {
    this.#unfinished--;
    if (this.#pending[this.#head] === ticket) this.#dropFinishedPrefix();
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
      next = this.#highestAdmitted + 1n > this.#fetchedEnd ? this.#highestAdmitted + 1n : this.#fetchedEnd;
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
