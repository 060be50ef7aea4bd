/**
 * One destination topic of the shared producer: its records waiting to be sent, and the groups of records being sent
 * again after a failure, which stay ahead of them (so the topic's order per partition holds).
 */
import type { OutgoingRecord } from '../kafka/ports.js';

/** Called once per record: without an error when the broker acknowledged it, with the refusal otherwise. */
export type SendCallback = (error?: unknown) => void;

export interface Queued {
  readonly record: OutgoingRecord;
  readonly done: SendCallback;
}

export class Destination {
  readonly topic: string;
  /** Records not sent yet, in arrival order. */
  readonly queue: Queued[] = [];
  /** Groups to send again, each exactly as it is and on its own, before anything queued. */
  readonly retry: Queued[][] = [];
  /** A request carrying this topic's records is in flight (or its failure is being handled). */
  busy = false;
  /**
   * Acknowledged since its last refusal as a topic: may share a request with other topics. Until then its records
   * go on their own, so a topic that does not exist never holds the others' records.
   */
  trusted = false;
  /** No request before this time (performance.now()): backing off after a transient failure. */
  notBefore = 0;
  /** Transient failures in a row (the backoff grows with them). */
  failures = 0;
  /** When the group at the head of `retry` first failed; -1 when nothing is failing. */
  failingSince = -1;

  constructor(topic: string) {
    this.topic = topic;
  }

  get pending(): boolean {
    return this.queue.length > 0 || this.retry.length > 0;
  }

  /** Acknowledged: back to normal. */
  succeeded(): void {
    this.trusted = true;
    this.failures = 0;
    this.failingSince = -1;
    this.notBefore = 0;
  }
}
