/**
 * Publishing one failed element to a dead-letter topic, the same way in the engine and in the test driver. The
 * record stays unfinished, so uncommitted, until the topic acknowledges one of these forms, tried in order:
 *
 * 1. the full record (original value, key and headers, plus the `kafka_dlt-*` / `tributary-*` headers);
 * 2. on a size refusal (MESSAGE_TOO_LARGE, RECORD_LIST_TOO_LARGE): the same without the value;
 * 3. on a size refusal again: the minimal record (coordinates, error, pipeline, stage, group; no original headers);
 * 4. on a size refusal again, if it has a key: the minimal record without the key (the key is what is too large).
 *
 * Any other refusal — transient, or permanent but not about size (out-of-order sequence, INVALID_RECORD,
 * authorization) — keeps the current form (so the value is kept) and is retried with backoff, logged with the
 * record's coordinates and the reason, until acknowledged or until the pipeline run stops: then the record is left
 * unfinished and the next run consumes it again. Only a size refusal can make a smaller record succeed, and only
 * the value can be lost with the source's retention, so nothing else costs the value.
 *
 * Never rejects: the engine and the test driver call it without awaiting (`void`), and an unhandled rejection would
 * end the process.
 */
import type { Logger } from 'pino';
import { backoffDelay } from '../backoff.js';
import type { FailedEnvelope } from '../envelope.js';
import { causeChain, errorMessage, isRetriable } from '../errors.js';
import type { OutgoingRecord } from '../kafka/ports.js';
import { recordBindings } from '../logger.js';
import { buildDeadLetterRecord, buildMinimalDeadLetterRecord } from './deadLetterRecord.js';

export interface DeadLetterWriterDeps {
  send(record: OutgoingRecord): Promise<void>;
  logger: Logger;
  /** Waits between attempts (real timers in the engine, the virtual clock in the test driver). */
  sleep(ms: number): Promise<void>;
  /** False once the pipeline run this record belongs to has stopped: then the record is left unfinished. */
  running(): boolean;
}

/** The broker's size refusals (Kafka protocol error names): the only ones a smaller record can get past. */
const SIZE_ERRORS: ReadonlySet<string> = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE']);
const SIZE_ERROR_TEXT = /\b(MESSAGE_TOO_LARGE|RECORD_LIST_TOO_LARGE)\b/;

/**
 * Whether the broker refused a record for its size: kafkajs' protocol errors carry the name in `type`; an error
 * wrapping one carries it in its `cause` chain; an error that only names it in its message (a test double, a wrapped
 * client error) counts too.
 */
export function isSizeRefusal(error: unknown): boolean {
  for (const link of causeChain(error)) {
    const { type, message } = link as { type?: unknown; message?: unknown };
    if (typeof type === 'string' && SIZE_ERRORS.has(type)) return true;
    if (typeof message === 'string' && SIZE_ERROR_TEXT.test(message)) return true;
  }
  return false;
}

type Form = 'full' | 'without value' | 'minimal' | 'minimal without key';

/** The start of the `tributary-*-omitted` reason after a size refusal of each form. */
const REFUSED: Record<Form, string> = {
  full: 'dead-letter topic refused the value',
  'without value': 'dead-letter topic refused the record even without its value',
  minimal: 'dead-letter topic refused even the minimal record with its key',
  'minimal without key': 'dead-letter topic refused even the minimal record',
};

/** How the log names the smaller form sent next. */
const NEXT: Record<Form, string> = {
  full: 'the full record',
  'without value': 'the record without its value',
  minimal: 'the minimal record (coordinates and error only)',
  'minimal without key': 'the minimal record without its key',
};

/** The refusal's message, with the protocol error name when kafkajs gives one and the message does not say it. */
function describeRefusal(error: unknown): string {
  const message = errorMessage(error);
  const type = typeof error === 'object' && error !== null ? (error as { type?: unknown }).type : undefined;
  return typeof type === 'string' && !message.includes(type) ? `${message} (${type})` : message;
}

/** The next smaller form after a size refusal of `form`, or undefined when nothing smaller is left. */
function smaller(form: Form, failed: FailedEnvelope): Form | undefined {
  if (form === 'full') return failed.origin.raw === null ? 'minimal' : 'without value';
  if (form === 'without value') return 'minimal';
  if (form === 'minimal') return failed.origin.key === null ? undefined : 'minimal without key';
  return undefined;
}

/** Builds `form`; a full or value-less record that cannot be built (a bug) falls back to the minimal one. */
function build(
  failed: FailedEnvelope,
  topic: string,
  form: Form,
  reason: string,
  logger: Logger,
): { record: OutgoingRecord; form: Form } {
  if (form === 'full' || form === 'without value') {
    try {
      const options = form === 'full' ? {} : { omitValue: reason };
      return { record: buildDeadLetterRecord(failed, topic, options), form };
    } catch (error) {
      logger.error(
        { err: error },
        `could not build the dead-letter record (${errorMessage(error)}); sending the minimal one`,
      );
      reason = `the dead-letter record could not be built: ${errorMessage(error)}`;
      form = 'minimal';
    }
  }
  const omitKey = form === 'minimal without key' ? reason : undefined;
  return { record: buildMinimalDeadLetterRecord(failed, topic, { reason, omitKey }), form };
}

/**
 * Publishes `failed` to `topic` (see the file comment for the forms tried and when it gives up).
 * @neverRejects every error is caught and logged; callers may `void` it
 */
export async function writeDeadLetter(
  failed: FailedEnvelope,
  topic: string,
  deps: DeadLetterWriterDeps,
): Promise<void> {
  try {
    await write(failed, topic, deps);
  } catch (error) {
    // a bug here (a dependency that threw) must not end the process: the record stays unfinished, so uncommitted
    try {
      deps.logger.error(
        { ...recordBindings(failed.origin), err: error },
        `dead-letter publish failed unexpectedly (${errorMessage(error)}); record stays uncommitted until the pipeline restarts`,
      );
    } catch {
      // nothing left to report with
    }
  }
}

async function write(failed: FailedEnvelope, topic: string, deps: DeadLetterWriterDeps): Promise<void> {
  if (failed.ticket.finished) return;
  const { origin } = failed;
  const bindings = {
    ...recordBindings(origin),
    stage: failed.stage,
    code: failed.error.code,
    deadLetterTopic: topic,
  };
  let { record, form } = build(failed, topic, 'full', '', deps.logger);
  let failures = 0;
  for (;;) {
    try {
      await deps.send(record);
      failed.ticket.finish('dead_lettered');
      const as = form === 'full' ? '' : ` (sent ${form})`;
      deps.logger.warn({ ...bindings, attempts: failed.attempts, form }, `dead-lettered${as}: ${failed.error.message}`);
      return;
    } catch (error) {
      const sizeRefusal = isSizeRefusal(error);
      const next = sizeRefusal ? smaller(form, failed) : undefined;
      if (next !== undefined) {
        const reason = `${REFUSED[form]}: ${describeRefusal(error)}`;
        deps.logger.error({ ...bindings, err: error, form, next }, `${reason}; sending ${NEXT[next]} instead`);
        ({ record, form } = build(failed, topic, next, reason, deps.logger));
        continue;
      }
      if (!deps.running()) {
        deps.logger.error(
          { ...bindings, err: error, form },
          'dead-letter publish abandoned: pipeline stopped; record stays uncommitted',
        );
        return;
      }
      const delay = backoffDelay(++failures, 100, 10_000);
      deps.logger.error({ ...bindings, err: error, form, retryInMs: delay }, refusalMessage(error, sizeRefusal, form));
      await deps.sleep(delay);
    }
  }
}

/** Why the record is being retried, in words, for the log line. */
function refusalMessage(error: unknown, sizeRefusal: boolean, form: Form): string {
  const tail = 'record stays uncommitted, retrying until the pipeline run stops';
  if (sizeRefusal) {
    return `dead-letter topic refused even the ${form} record for its size (${describeRefusal(error)}); ${tail}`;
  }
  if (!isRetriable(error)) {
    return `dead-letter topic refused the ${form} record: ${describeRefusal(error)} — not a size error, so the record keeps its value; ${tail}`;
  }
  return `dead-letter publish failed: ${describeRefusal(error)}; ${tail}`;
}
