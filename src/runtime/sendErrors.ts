/**
 * How the shared producer reads a failed send: whether another attempt can help, and whether the refusal is about the
 * destination topic as a whole rather than one record.
 */
import { isRetriable } from '../errors.js';

/** Refusals of a whole topic: every record of it would be refused the same way. */
const TOPIC_REFUSALS = new Set(['UNKNOWN_TOPIC_OR_PARTITION', 'TOPIC_AUTHORIZATION_FAILED', 'INVALID_TOPIC_EXCEPTION']);

/** The kafkajs protocol error type (e.g. UNKNOWN_TOPIC_OR_PARTITION) of an error or of one of its causes. */
function protocolType(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    const { type, cause } = current as { type?: unknown; cause?: unknown };
    if (typeof type === 'string') return type;
    current = cause;
  }
  return undefined;
}

/**
 * The destination topic refuses everything: it does not exist (kafkajs reports this only after refreshing the
 * metadata several times) or the client may not write to it.
 */
export function isTopicRefusal(error: unknown): boolean {
  const type = protocolType(error);
  return type !== undefined && TOPIC_REFUSALS.has(type);
}

/** A refusal that another attempt cannot fix (e.g. MESSAGE_TOO_LARGE). Exhausted client retries are transient. */
export function isPermanentSendError(error: unknown): boolean {
  if (isTopicRefusal(error)) return true;
  if (error instanceof Error && error.name === 'KafkaJSNumberOfRetriesExceeded') return false;
  return !isRetriable(error);
}
