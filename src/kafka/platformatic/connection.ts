/**
 * Connection options shared by every @platformatic/kafka client the adapter makes (consumer, fetcher, producer,
 * admin), from the engine's KafkaConnectionConfig; and the translation of its errors into what the engine reads.
 */
import { type BaseOptions, findErrorBy, type SASLOptions } from '@platformatic/kafka';
import type { KafkaConnectionConfig } from '../kafkajsClient.js';

function sasl(config: NonNullable<KafkaConnectionConfig['sasl']>): SASLOptions {
  const mechanism = ({ plain: 'PLAIN', 'scram-sha-256': 'SCRAM-SHA-256', 'scram-sha-512': 'SCRAM-SHA-512' } as const)[
    config.mechanism
  ];
  return { mechanism, username: config.username, password: config.password };
}

export function baseOptions(config: KafkaConnectionConfig, role: string): BaseOptions {
  const options: BaseOptions = {
    clientId: `${config.clientId ?? 'tributary'}-${role}`,
    bootstrapBrokers: [...config.brokers],
    autocreateTopics: false,
    // kafkajs retries 5 times with backoff; a missing topic must not take long to be refused
    retries: 3,
    retryDelay: 250,
  };
  if (config.ssl === true) options.tls = {};
  else if (typeof config.ssl === 'object') options.tls = config.ssl.ca ? { ca: config.ssl.ca } : {};
  if (config.sasl) options.sasl = sasl(config.sasl);
  if (config.connectionTimeoutMs !== undefined) options.connectTimeout = config.connectionTimeoutMs;
  if (config.requestTimeoutMs !== undefined) {
    options.requestTimeout = config.requestTimeoutMs;
    options.timeout = config.requestTimeoutMs;
  }
  return options;
}

/** A protocol error as @platformatic/kafka builds it (ProtocolError, code PLT_KFK_PROTOCOL). */
interface ProtocolErrorShape {
  message: string;
  apiId?: unknown;
  canRetry?: unknown;
  serverErrorMessage?: unknown;
}

/** Every protocol error in a failed call, depth first: a response error holds one per failed partition or record. */
function protocolErrorsIn(
  error: unknown,
  found: ProtocolErrorShape[] = [],
  seen = new Set<unknown>(),
): ProtocolErrorShape[] {
  if (!(error instanceof Error) || seen.has(error)) return found;
  seen.add(error);
  if ((error as { code?: unknown }).code === 'PLT_KFK_PROTOCOL') found.push(error as ProtocolErrorShape);
  const { errors } = error as { errors?: unknown };
  if (Array.isArray(errors)) for (const inner of errors) protocolErrorsIn(inner, found, seen);
  protocolErrorsIn(error.cause, found, seen);
  return found;
}

/**
 * The protocol error that says why: a produce response lists a refused record's detail as UNKNOWN_SERVER_ERROR
 * (the client gives record errors code -1) before the partition's own code (e.g. INVALID_RECORD), so a named code
 * wins over the unknown one; the record's detail is kept for the message.
 */
function mainProtocolError(error: Error): { chosen: ProtocolErrorShape; detail: string | undefined } | undefined {
  const all = protocolErrorsIn(error);
  const chosen = all.find((e) => e.apiId !== 'UNKNOWN_SERVER_ERROR') ?? all[0];
  if (chosen === undefined) return undefined;
  const details = all.map((e) => e.serverErrorMessage).filter((m): m is string => typeof m === 'string' && m !== '');
  return { chosen, detail: details.length > 0 ? [...new Set(details)].join('; ') : undefined };
}

/**
 * A failed @platformatic/kafka call, in the shape src/runtime/sendErrors.ts reads (kafkajs' shape): `type` is the
 * Kafka protocol error (e.g. UNKNOWN_TOPIC_OR_PARTITION, MESSAGE_TOO_LARGE, INVALID_RECORD) and `retriable` whether
 * the client says another attempt can help. Network errors and timeouts carry no type and stay retriable.
 */
export class PlatformaticKafkaError extends Error {
  override name = 'PlatformaticKafkaError';
  readonly type: string | undefined;
  readonly retriable: boolean;
  constructor(cause: unknown) {
    const error = cause instanceof Error ? cause : new Error(String(cause));
    const main = mainProtocolError(error);
    const protocol = main?.chosen;
    // a metadata lookup for a topic that does not exist ends in a UserError that drops the protocol error: its
    // message is the only sign (base.js: `Unknown topic ${topicName}.`)
    const unknownTopic =
      protocol === undefined && findErrorBy(error, 'code', 'PLT_KFK_USER')?.message.startsWith('Unknown topic ');
    const type = unknownTopic
      ? 'UNKNOWN_TOPIC_OR_PARTITION'
      : typeof protocol?.apiId === 'string'
        ? protocol.apiId
        : undefined;
    const message =
      protocol && protocol !== error
        ? `${error.message}: ${protocol.message}${main?.detail ? ` (${main.detail})` : ''}`
        : error.message;
    super(message, { cause: error });
    this.type = type;
    this.retriable = protocol ? protocol.canRetry !== false : !unknownTopic;
  }
}

/** `findErrorBy` for any thrown value. */
export function protocolErrorOf(error: unknown, apiId: string): boolean {
  return error instanceof Error && findErrorBy(error, 'apiId', apiId) !== null;
}
