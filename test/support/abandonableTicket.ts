/**
 * A recording ticket whose `abandoned` flag the test sets, standing in for a ticket whose partition was revoked (the
 * engine's tickets report `abandoned` from their tracker). Kept apart from envelopes.ts, whose tickets never are.
 */
import type { Outcome, SettledOutcome } from '../../src/envelope.js';
import {
  type RecordingTicket,
  recordingTicket,
  type TestEnvelope,
  type TestEnvelopeOptions,
  testEnvelope,
} from './envelopes.js';

export interface AbandonableTicket extends RecordingTicket {
  /** From now on `abandoned` is true, as after the record's partition was revoked. */
  abandon(): void;
}

export function abandonableTicket(): AbandonableTicket {
  const inner = recordingTicket();
  let abandoned = false;
  return {
    get finished() {
      return inner.finished;
    },
    get outcome() {
      return inner.outcome;
    },
    get settled() {
      return inner.settled;
    },
    get abandoned() {
      return abandoned;
    },
    calls: inner.calls,
    finish: (outcome: Outcome) => inner.finish(outcome),
    settle: (outcome: SettledOutcome) => inner.settle(outcome),
    abandon() {
      abandoned = true;
    },
  };
}

/** {@link testEnvelope} with an {@link AbandonableTicket}. */
export function abandonableEnvelope<T>(
  value: T,
  options: TestEnvelopeOptions = {},
): TestEnvelope<T> & { readonly ticket: AbandonableTicket } {
  return { ...testEnvelope(value, options), ticket: abandonableTicket() };
}
