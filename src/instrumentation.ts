/**
 * What the engine reports while it runs. `metrics/` implements this with @prometheus-io/client; the engine only calls it.
 * Every method must be cheap and must never throw (the engine calls them on the hot path).
 */
import type { Outcome } from './envelope.js';
import type { TopicPartition } from './kafka/ports.js';

export interface EngineObserver {
  /** `count` records were admitted into `pipeline` from one partition batch. */
  recordsConsumed(pipeline: string, topic: string, partition: number, count: number): void;
  /** A record finished; `seconds` is the time from admission to outcome. */
  recordFinished(pipeline: string, topic: string, outcome: Outcome, seconds: number): void;
  /** A stage scheduled another attempt for a record. */
  retried(pipeline: string, stage: string): void;
  /** Records admitted but not finished, now. */
  inFlight(pipeline: string, count: number): void;
  /** Partitions this pipeline's consumer currently holds paused. */
  partitionsPaused(pipeline: string, count: number): void;
  /** The group's committed offset (next offset to read) for a partition, after a successful commit. */
  offsetCommitted(pipeline: string, groupId: string, topic: string, partition: number, offset: bigint): void;
  /** One commit request finished. */
  commitDone(pipeline: string, seconds: number, ok: boolean): void;
  /** The consumer joined its group (again) and now owns `assignment`. */
  assigned(pipeline: string, groupId: string, assignment: readonly TopicPartition[]): void;
  /** One batched producer request finished. */
  producerSent(records: number, seconds: number, ok: boolean): void;
  /** Age of the pipeline's oldest unfinished record, in seconds (0 when nothing is unfinished). */
  oldestUnfinished(pipeline: string, seconds: number): void;
  /** The pipeline's consumer left its group (stop, abort, or a crash before restarting): it owns no partition now. */
  released(pipeline: string, groupId: string): void;
}

/** An observer that records nothing. */
export const noopObserver: EngineObserver = {
  recordsConsumed: () => {},
  recordFinished: () => {},
  retried: () => {},
  inFlight: () => {},
  partitionsPaused: () => {},
  offsetCommitted: () => {},
  commitDone: () => {},
  assigned: () => {},
  producerSent: () => {},
  released: () => {},
  oldestUnfinished: () => {},
};
