/** What the test driver reports about the pipelines it runs: outcomes, commits, unfinished records, crashes. */
import type { Outcome } from '../envelope.js';
import type { RecordPosition } from './testTopics.js';

/** How a record finished, as the engine's end of chain saw it. */
export interface RecordOutcome extends RecordPosition {
  readonly pipeline: string;
  readonly outcome: Outcome;
  /** Virtual milliseconds from admission to the outcome. */
  readonly durationMs: number;
}

/** The offset a pipeline's group committed for a partition (the next offset to read). */
export interface CommittedOffset extends RecordPosition {
  readonly pipeline: string;
  readonly groupId: string;
}

/**
 * A record not finished yet: admitted into the chain (`in-flight`), or in the topic and not admitted yet
 * (`waiting`: the pipeline is at `maxInFlight`, its partition is paused or parked, or it is restarting).
 */
export interface UnfinishedRecord extends RecordPosition {
  readonly pipeline: string;
  readonly state: 'in-flight' | 'waiting';
}

/** A run of a pipeline crashed: the engine restarts it from the committed offsets after its backoff. */
export interface PipelineCrash {
  readonly pipeline: string;
  readonly error: unknown;
  /** Virtual time of the crash. */
  readonly at: number;
}
