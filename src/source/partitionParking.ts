/**
 * The second line of backpressure: when the window is full, a partition holding more than its share of it steps
 * aside — it is paused (not fetched) and the rest of its fetched batch is parked in memory — so one slow partition
 * cannot take every credit from the others while the client waits on it. Parked records are admitted as credits free
 * up (first to a partition below `low`, the rest while nobody else waits), and the partition is resumed once they all
 * are: nothing fetched is thrown away and fetched again, within a budget. All parked batches together hold at most
 * `maxParked` records (10 × maxInFlight, at least 10,000): the rest of a batch beyond that is not kept, and the
 * partition's fetch position is set back to it (fetched again after the resume), so parked memory follows the
 * admission limit, not the number of partitions × the fetch size.
 */
import type { Logger } from 'pino';
import type { ConsumedRecord, ConsumerPort, TopicPartition } from '../kafka/ports.js';
import type { PartitionTracker } from '../offsets/partitionTracker.js';
import type { AdmissionGate } from './admissionGate.js';

export const tpKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

/**
 * A partition's share of a full window is 1.5 × maxInFlight / assigned partitions; with one partition the admission
 * limit alone applies. While the window has room nothing is paused.
 */
export function partitionPauseThresholds(maxInFlight: number, assigned: number): { high: number; low: number } {
  if (assigned <= 1) return { high: Number.POSITIVE_INFINITY, low: Number.POSITIVE_INFINITY };
  const high = Math.min(maxInFlight, Math.max(1, Math.ceil((1.5 * maxInFlight) / assigned)));
  return { high, low: Math.floor(high / 2) };
}

/** The unadmitted rest of a fetched batch of a paused partition. */
interface ParkedBatch {
  readonly tracker: PartitionTracker;
  /** Admitted entries are cleared, so a parked batch holds only what waits. */
  readonly records: (ConsumedRecord | undefined)[];
  /** The next record to admit. */
  next: number;
  /** What the tracker may count as fetched once every parked record is admitted. */
  readonly endOffset: bigint;
  /** Admitting again: opened once the partition drained to its low mark, closed when it holds its share again. */
  open: boolean;
}

export interface ParkingDeps {
  readonly consumer: ConsumerPort;
  readonly gate: AdmissionGate;
  readonly maxInFlight: number;
  /** Most records all parked batches together may hold. */
  readonly maxParked: number;
  /** Most entries a partition's tracker may retain behind its oldest unfinished record before it is paused. */
  readonly maxRetained: number;
  readonly log: Logger;
  /** Admits one record whose credit was acquired. */
  admitRecord(tracker: PartitionTracker, record: ConsumedRecord): void;
  /** Still admitting (false once the run stops or crashes). */
  admitting(): boolean;
  /** Parked records were admitted (metrics). */
  consumed(tracker: PartitionTracker, count: number): void;
  /** How many partitions are paused now (metrics). */
  pausedCount(count: number): void;
}

export class PartitionParking {
  readonly #deps: ParkingDeps;
  #thresholds = { high: Number.POSITIVE_INFINITY, low: Number.POSITIVE_INFINITY };
  readonly #paused = new Map<string, TopicPartition>();
  readonly #parked = new Map<string, ParkedBatch>();
  #parkedRecords = 0;
  #drainScheduled = false;
  /** Partition batches being admitted now (they want credits). */
  admittingBatches = 0;

  constructor(deps: ParkingDeps) {
    this.#deps = deps;
  }

  get pausedCount(): number {
    return this.#paused.size;
  }

  /**
   * A new assignment: forget what belongs to partitions no longer owned (resuming them, as the client keeps a pause
   * across assignments), and pause again what stays parked (the client may have restarted and forgotten its pauses).
   */
  assigned(assignment: readonly TopicPartition[], owned: ReadonlySet<string>): void {
    this.#thresholds = partitionPauseThresholds(this.#deps.maxInFlight, assignment.length);
    for (const key of [...this.#parked.keys()]) if (!owned.has(key)) this.#unpark(key);
    for (const key of [...this.#paused.keys()]) {
      if (!owned.has(key)) this.resume(key);
      else this.#pauseCall(this.#paused.get(key) as TopicPartition);
    }
    this.#deps.pausedCount(this.#paused.size);
  }

  /** True when this partition has parked records: a batch fetched meanwhile must wait until they are admitted. */
  isParked(tracker: PartitionTracker): boolean {
    const parked = this.#parked.get(tpKey(tracker.topic, tracker.partition));
    if (parked === undefined) return false;
    if (parked.tracker === tracker) return true;
    this.#unpark(tpKey(tracker.topic, tracker.partition)); // left from a revoked tracker
    return false;
  }

  /** The offsets parked for this tracker's partition that are still to be admitted, in ascending order. */
  *waiting(tracker: PartitionTracker): IterableIterator<bigint> {
    const parked = this.#parked.get(tpKey(tracker.topic, tracker.partition));
    if (parked === undefined || parked.tracker !== tracker) return;
    for (let i = parked.next; i < parked.records.length; i++) {
      const record = parked.records[i];
      if (record !== undefined && tracker.accepts(record.offset)) yield record.offset;
    }
  }

  /** Whether a partition should step aside now rather than wait for a credit. */
  shouldStepAside(tracker: PartitionTracker, windowFull: boolean): boolean {
    if (tracker.retained >= this.#deps.maxRetained) return true;
    return windowFull && tracker.unfinished >= this.#thresholds.high;
  }

  /**
   * Pauses the partition and parks `records` (the unadmitted rest of its batch, ending at `endOffset`), as many as
   * the budget allows. Returns where the partition's fetch position must go (the first record not kept), or
   * undefined when the client refused the pause (then nothing was parked and the caller waits instead).
   */
  park(tracker: PartitionTracker, records: readonly ConsumedRecord[], endOffset: bigint): bigint | undefined {
    if (!this.pause(tracker)) return undefined;
    const budget = Math.max(0, this.#deps.maxParked - this.#parkedRecords);
    const kept = records.length <= budget ? records.slice() : records.slice(0, budget);
    const resumeAt = kept.length === records.length ? endOffset : (records[kept.length] as ConsumedRecord).offset;
    if (kept.length > 0 || resumeAt !== endOffset) {
      this.#parked.set(tpKey(tracker.topic, tracker.partition), {
        tracker,
        records: kept,
        next: 0,
        endOffset: resumeAt,
        open: false,
      });
      this.#parkedRecords += kept.length;
    }
    return resumeAt;
  }

  /** Pauses the partition's fetching; false when the consumer refused (then nothing may be parked for it). */
  pause(tracker: PartitionTracker): boolean {
    const key = tpKey(tracker.topic, tracker.partition);
    const tp = { topic: tracker.topic, partition: tracker.partition };
    // called every time, even when already paused here: the client may have lost the pause (restart, another resume)
    if (!this.#pauseCall(tp)) return false;
    if (!this.#paused.has(key)) {
      this.#paused.set(key, tp);
      this.#deps.pausedCount(this.#paused.size);
      this.#deps.log.debug({ ...tp, unfinished: tracker.unfinished, retained: tracker.retained }, 'partition paused');
    }
    return true;
  }

  #pauseCall(tp: TopicPartition): boolean {
    try {
      this.#deps.consumer.pause([tp]);
      return true;
    } catch (error) {
      this.#deps.log.debug({ err: error, ...tp }, 'pause failed (consumer not running)');
      return false;
    }
  }

  resume(key: string): void {
    const tp = this.#paused.get(key);
    if (!tp) return;
    this.#paused.delete(key);
    try {
      this.#deps.consumer.resume([tp]);
    } catch (error) {
      this.#deps.log.debug({ err: error, ...tp }, 'resume failed (consumer not running)');
    }
    this.#deps.pausedCount(this.#paused.size);
  }

  #unpark(key: string): void {
    const parked = this.#parked.get(key);
    if (parked === undefined) return;
    this.#parkedRecords -= parked.records.length - parked.next;
    this.#parked.delete(key);
  }

  /** A record finished: parked records may be admitted now (asynchronously, never inside an operator's call). */
  scheduleDrain(): void {
    if (this.#drainScheduled || this.#parked.size === 0) return;
    this.#drainScheduled = true;
    queueMicrotask(() => {
      this.#drainScheduled = false;
      this.#drain();
    });
  }

  /**
   * Admits parked records while credits are free. A parked partition starts again once it drained to its low mark
   * (and its retained entries to half their limit); while another partition wants credits (its batch is being
   * admitted, or it is parked too) it stops at its share (the high mark), otherwise it may use the whole window. A
   * partition whose parked records are all admitted is resumed.
   */
  #drain(): void {
    const { gate, maxRetained } = this.#deps;
    const { high, low } = this.#thresholds;
    for (const [key, parked] of this.#parked) {
      if (!this.#deps.admitting()) return;
      const { tracker, records } = parked;
      if (tracker.revoked) {
        this.#unpark(key); // re-delivered from the committed offset to whoever owns the partition now
        continue;
      }
      if (!parked.open) {
        if (tracker.unfinished > low || tracker.retained > maxRetained / 2) continue;
        parked.open = true;
      }
      const contended = this.admittingBatches > 0 || this.#parked.size > 1;
      let admitted = 0;
      while (parked.next < records.length) {
        const record = records[parked.next] as ConsumedRecord;
        if (!tracker.accepts(record.offset)) {
          records[parked.next++] = undefined;
          this.#parkedRecords--;
          continue;
        }
        if ((contended && tracker.unfinished >= high) || tracker.retained >= maxRetained) {
          parked.open = false;
          break;
        }
        if (!gate.tryAcquire()) break;
        records[parked.next++] = undefined;
        this.#parkedRecords--;
        admitted++;
        this.#deps.admitRecord(tracker, record);
        if (!this.#deps.admitting() || tracker.revoked) break;
      }
      if (admitted > 0) this.#deps.consumed(tracker, admitted);
      if (parked.next >= records.length && !tracker.revoked) {
        tracker.fetchedUpTo(parked.endOffset);
        this.#parked.delete(key);
        this.resume(key);
      }
      if (gate.inFlight >= gate.limit) return;
    }
  }

  /** Forgets everything (the run ends). */
  clear(): void {
    this.#paused.clear();
    this.#parked.clear();
    this.#parkedRecords = 0;
    this.#deps.pausedCount(0);
  }
}
