/**
 * How the shared producer reads a failed send: whether another attempt can help, and whether the refusal is about the
 * destination topic as a whole rather than one record.
 */
import { causeChain, isRetriable } from '../errors.js';

/** Refusals of a whole topic: every record of it would be refused the same way. */
const TOPIC_REFUSALS = new Set(['UNKNOWN_TOPIC_OR_PARTITION', 'TOPIC_AUTHORIZATION_FAILED', 'INVALID_TOPIC_EXCEPTION']);

/** The Kafka protocol error name (e.g. UNKNOWN_TOPIC_OR_PARTITION) in `type` of an error or of one of its causes. */
export function protocolType(error: unknown): string | undefined {
  for (const link of causeChain(error)) {
    const { type } = link as { type?: unknown };
    if (typeof type === 'string') return type;
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

/**
 * kafkajs errors that say the broker could not be reached or did not answer in time. kafkajs nests retriers: an inner
 * one's exhausted retries reach an outer one, which rethrows them as a `KafkaJSNonRetriableError` (retriable: false)
 * with the connection error as its cause — so the whole cause chain is read, not only the outermost error.
 */
const UNREACHABLE = new Set([
  'KafkaJSNumberOfRetriesExceeded',
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSBrokerNotFound',
  'KafkaJSMetadataNotLoaded',
]);

function isUnreachable(error: unknown): boolean {
  for (const link of causeChain(error)) {
    const { name } = link as { name?: unknown };
    if (typeof name === 'string' && UNREACHABLE.has(name)) return true;
  }
  return false;
}

/**
 * A refusal that another attempt cannot fix (e.g. MESSAGE_TOO_LARGE). A broker that cannot be reached, and exhausted
 * client retries, are transient: a broker outage never turns a record into a dead letter.
 */
export function isPermanentSendError(error: unknown): boolean {
  if (isTopicRefusal(error)) return true;
  if (isUnreachable(error)) return false;
  return !isRetriable(error);
}
