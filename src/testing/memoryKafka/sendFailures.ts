/**
 * Producer failures on demand: which sends of the in-memory broker fail, how often, and how (transient, permanent,
 * or written with the acknowledgement lost).
 */
import { MemoryKafkaError } from './memoryErrors.js';

export interface SendFailure {
  /** Only sends that hold a record for this topic (default: any). */
  readonly topic?: string;
  /** Only sends that hold a record for this partition of `topic` (default: any partition). */
  readonly partition?: number;
  /** How many sends fail (default 1). `Infinity`: every matching send, until `remove()`. */
  readonly times?: number;
  /**
   * `'transient'` (default): NOT_ENOUGH_REPLICAS, retriable; `'permanent'`: INVALID_RECORD, which no retry fixes;
   * or the error to reject with.
   */
  readonly error?: 'transient' | 'permanent' | Error;
  /**
   * The records are written, then the acknowledgement is lost (the send rejects): a producer that sends them again
   * writes them twice, as on a real broker after a timeout. Default false: nothing of the send is written.
   */
  readonly written?: boolean;
}

/** A failure rule in force; `remove()` ends it early. */
export interface SendFailureRule {
  /** Sends it will still fail. */
  readonly remaining: number;
  remove(): void;
}

interface Rule {
  readonly failure: SendFailure;
  remaining: number;
}

export class SendFailures {
  readonly #rules: Rule[] = [];

  add(failure: SendFailure): SendFailureRule {
    const times = failure.times ?? 1;
    if (!(times >= 1)) throw new RangeError(`failSends: times must be at least 1, got ${times}`);
    if (failure.partition !== undefined && failure.topic === undefined) {
      throw new TypeError('failSends: a partition needs its topic');
    }
    const rule: Rule = { failure, remaining: times };
    this.#rules.push(rule);
    const rules = this.#rules;
    return {
      get remaining() {
        return rule.remaining;
      },
      remove() {
        rule.remaining = 0;
        const index = rules.indexOf(rule);
        if (index >= 0) rules.splice(index, 1);
      },
    };
  }

  /** The failure for a send writing to these partitions, counted as used; undefined when the send succeeds. */
  take(destinations: readonly { topic: string; partition: number }[]): { error: Error; written: boolean } | undefined {
    const rule = this.#rules.find(({ failure }) =>
      destinations.some(
        (d) =>
          (failure.topic === undefined || failure.topic === d.topic) &&
          (failure.partition === undefined || failure.partition === d.partition),
      ),
    );
    if (rule === undefined) return undefined;
    rule.remaining--;
    if (rule.remaining <= 0) this.#rules.splice(this.#rules.indexOf(rule), 1);
    const { failure } = rule;
    const where = failure.topic === undefined ? 'a send' : `a send to ${failure.topic}`;
    let error: Error;
    if (failure.error instanceof Error) error = failure.error;
    else if (failure.error === 'permanent') {
      error = new MemoryKafkaError('INVALID_RECORD', `injected permanent failure of ${where}`, false);
    } else {
      error = new MemoryKafkaError('NOT_ENOUGH_REPLICAS', `injected transient failure of ${where}`, true);
    }
    return { error, written: failure.written === true };
  }
}
