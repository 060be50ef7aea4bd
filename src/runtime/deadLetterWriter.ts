/**
 * Publishing one failed element to a dead-letter topic, the same way in the engine and in the test driver: retry
 * until acknowledged (the record stays unfinished, so uncommitted, meanwhile); if the topic refuses the value for
 * good, send it without the value (the headers still point at the original); give up only when the pipeline stops.
 */
import type { Logger } from 'pino';
import type { FailedEnvelope, OutgoingRecord } from '../envelope.js';
import { errorMessage, isRetriable } from '../errors.js';
import { buildDeadLetterRecord } from './deadLetterRecord.js';

export interface DeadLetterWriterDeps {
  send(record: OutgoingRecord): Promise<void>;
  logger: Logger;
  /** Waits between attempts (real timers in the engine, the virtual clock in the test driver). */
  sleep(ms: number): Promise<void>;
  /** False once the pipeline run this record belongs to has stopped: then the record is left unfinished. */
  running(): boolean;
}

export async function writeDeadLetter(
  failed: FailedEnvelope,
  topic: string,
  deps: DeadLetterWriterDeps,
): Promise<void> {
  if (failed.ticket.finished) return;
  const { origin } = failed;
  const bindings = {
    topic: origin.topic,
    partition: origin.partition,
    offset: origin.offset.toString(),
    correlationId: origin.correlationId,
    stage: failed.stage,
    code: failed.error.code,
    deadLetterTopic: topic,
  };
  let record = buildDeadLetterRecord(failed, topic);
  let delay = 100;
  for (;;) {
    try {
      await deps.send(record);
      failed.ticket.finish('dead_lettered');
      deps.logger.warn({ ...bindings, attempts: failed.attempts }, `dead-lettered: ${failed.error.message}`);
      return;
    } catch (error) {
      if (!isRetriable(error) && record.value !== null) {
        const reason = `dead-letter topic refused the value: ${errorMessage(error)}`;
        deps.logger.error({ ...bindings, err: error }, `${reason}; dead-lettering without the value`);
        record = buildDeadLetterRecord(failed, topic, { omitValue: reason });
        continue;
      }
      if (!deps.running()) {
        deps.logger.error(
          { ...bindings, err: error },
          'dead-letter publish abandoned: pipeline stopped; record stays uncommitted',
        );
        return;
      }
      deps.logger.error(
        { ...bindings, err: error, retryInMs: delay },
        'dead-letter publish failed; record stays uncommitted, retrying',
      );
      await deps.sleep(delay);
      delay = Math.min(delay * 2, 10_000);
    }
  }
}
