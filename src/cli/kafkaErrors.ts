/**
 * One readable line for the errors a command meets when it talks to Kafka: wrong credentials, unreachable brokers,
 * TLS trouble. The kafkajs error names are matched as strings here, so the CLI does not import kafkajs.
 */

import { errorsInTree, systemErrorIn } from '../kafka/errorTree.js';
import type { KafkaConnectionConfig } from '../kafka/kafkajsClient.js';

function field(error: unknown, name: 'name' | 'message' | 'code' | 'type'): string {
  if (typeof error !== 'object' || error === null) return name === 'message' ? String(error) : '';
  const value = (error as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : '';
}

/** `scram-sha-256` → `SCRAM-SHA-256`, as brokers and Kafka's documentation spell it. */
export function mechanismName(mechanism: string): string {
  return mechanism.toUpperCase();
}

export type KafkaProblemKind = 'authentication' | 'connection' | 'tls' | 'missing-topic' | 'other';

export interface KafkaProblem {
  readonly kind: KafkaProblemKind;
  /** One line, no secrets: what failed and what to check. */
  readonly message: string;
}

/**
 * Explains a Kafka error in one line.
 *
 * @example
 * describeKafkaError(error, config.kafka).message
 * // 'authentication failed for user alice (SCRAM-SHA-256) at 127.0.0.1:9094: check KAFKA_USERNAME, ...'
 */
export function describeKafkaError(
  error: unknown,
  kafka: Pick<KafkaConnectionConfig, 'brokers' | 'sasl' | 'ssl'>,
  context: { topics?: readonly string[] } = {},
): KafkaProblem {
  // the error and the errors it wraps (cause, originalError, an AggregateError's errors), outermost first
  const errors = errorsInTree(error);
  const brokers = kafka.brokers.join(',');
  // the reason: the innermost error, or the system error (ECONNREFUSED, ...) when one is nested somewhere
  const innermost = systemErrorIn(error) ?? errors.at(-1) ?? error;
  const detail = field(innermost, 'message') || field(error, 'message');

  // kafkajs' error, or the platformatic adapter's (src/kafka/platformatic/connection.ts)
  const auth = errors.find(
    (e) => field(e, 'name') === 'KafkaJSSASLAuthenticationError' || field(e, 'type') === 'SASL_AUTHENTICATION_FAILED',
  );
  if (auth !== undefined) {
    const who = kafka.sasl
      ? `user ${kafka.sasl.username} (${mechanismName(kafka.sasl.mechanism)})`
      : 'this client (no SASL configured: set KAFKA_SASL_MECHANISM, KAFKA_USERNAME, KAFKA_PASSWORD)';
    return {
      kind: 'authentication',
      message:
        `authentication failed for ${who} at ${brokers}: check KAFKA_USERNAME, KAFKA_PASSWORD and ` +
        `KAFKA_SASL_MECHANISM (broker said: ${field(auth, 'message')})`,
    };
  }

  if (errors.some((e) => field(e, 'type') === 'UNKNOWN_TOPIC_OR_PARTITION')) {
    const which = context.topics?.length ? ` (one of ${context.topics.join(', ')})` : '';
    return {
      kind: 'missing-topic',
      message:
        `a topic does not exist${which}: create the pipelines' topics with \`tributary topics create\` ` +
        `(broker said: ${detail})`,
    };
  }

  // both adapters' permanent TLS failure (src/kafka/tlsErrors.ts): its message already says what to check
  const tls = errors.find((e) => field(e, 'name') === 'KafkaTlsError');
  if (tls !== undefined) return { kind: 'tls', message: field(tls, 'message') };

  const codes = errors.map((e) => field(e, 'code'));
  const names = errors.map((e) => field(e, 'name'));
  const messages = errors.map((e) => field(e, 'message')).join(' | ');
  if (
    codes.some((c) => c.startsWith('ERR_TLS') || c.startsWith('CERT_') || c === 'DEPTH_ZERO_SELF_SIGNED_CERT') ||
    /certificate|SSL routines|TLS/i.test(messages)
  ) {
    return {
      kind: 'tls',
      message: `TLS handshake with ${brokers} failed: ${detail} (check KAFKA_SSL and KAFKA_SSL_CA_FILE)`,
    };
  }
  if (
    codes.some((c) => ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH'].includes(c)) ||
    names.some((n) => n === 'KafkaJSConnectionError' || n === 'KafkaJSBrokerNotFound') ||
    /Connection (error|timeout)|ECONNREFUSED|ENOTFOUND/.test(messages)
  ) {
    return { kind: 'connection', message: `cannot connect to Kafka at ${brokers}: ${detail} (check KAFKA_BROKERS)` };
  }
  return { kind: 'other', message: field(error, 'message') || detail || 'unknown error' };
}
