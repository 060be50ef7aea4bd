/**
 * What happens to an element that leaves a pipeline's operator chain — the same in the engine's run and in the test
 * driver: an ok element finishes with the outcome a stage settled it with (`sunk` if none); a failed one goes to the
 * dead-letter topic, which finishes it once acknowledged. An element already finished (by a stage) is left alone.
 */
import type { Logger } from 'pino';
import type { Element, FailedEnvelope } from '../envelope.js';

export function finishAtEndOfChain(
  element: Element<unknown>,
  deadLetter: (failed: FailedEnvelope) => Promise<void>,
  log: Logger,
): void {
  if (element.ticket.finished) return;
  if (element.ok) {
    element.ticket.finish(element.ticket.settled ?? 'sunk');
    return;
  }
  deadLetter(element).catch((error: unknown) => {
    log.error({ err: error }, 'dead-letter write failed unexpectedly; the record stays uncommitted');
  });
}
