/**
 * Connection options shared by every @platformatic/kafka client the adapter makes (consumer, fetcher, producer,
 * admin), from the engine's KafkaConnectionConfig; and the translation of its errors into what the engine reads.
 */
import { isIP } from 'node:net';
import { type BaseOptions, findErrorBy, type SASLOptions } from '@platformatic/kafka';
import { errorsInTree, findInErrorTree, systemErrorIn } from '../errorTree.js';
import type { KafkaConnectionConfig } from '../kafkajsClient.js';
import { type KafkaTlsError, permanentTlsError } from '../tlsErrors.js';

function sasl(config: NonNullable<KafkaConnectionConfig['sasl']>): SASLOptions {
  const mechanism = ({ plain: 'PLAIN', 'scram-sha-256': 'SCRAM-SHA-256', 'scram-sha-512': 'SCRAM-SHA-512' } as const)[
    config.mechanism
  ];
  return { mechanism, username: config.username, password: config.password };
}

/** `host` of `host:port` or `[v6]:port`. */
function hostOf(broker: string): string {
  return broker.slice(0, broker.lastIndexOf(':')).replace(/^\[(.*)\]$/, '$1');
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
  // {} keeps Node's defaults: verify the certificate against the system's CAs (with NODE_EXTRA_CA_CERTS) and the host
  if (config.ssl === true) options.tls = {};
  else if (typeof config.ssl === 'object') options.tls = config.ssl.ca ? { ca: config.ssl.ca } : {};
  // SNI, which services that route by server name need (kafkajs sends it for host names). The client sends the host
  // of each connection, so only when the bootstrap brokers are names: Node warns when an IP address is sent.
  if (options.tls && config.brokers.every((broker) => isIP(hostOf(broker)) === 0)) options.tlsServerName = true;
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

/** Every protocol error in a failed call: a response error holds one per failed partition or record. */
function protocolErrorsIn(error: unknown): ProtocolErrorShape[] {
  return errorsInTree(error).filter(
    (e): e is ProtocolErrorShape => (e as { code?: unknown } | null)?.code === 'PLT_KFK_PROTOCOL',
  );
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
 * the client says another attempt can help. Network errors and timeouts carry no type and stay retriable. A refused
 * SASL authentication is type SASL_AUTHENTICATION_FAILED, not retriable, with the broker's message.
 */
export class PlatformaticKafkaError extends Error {
  override name = 'PlatformaticKafkaError';
  readonly type: string | undefined;
  readonly retriable: boolean;
  constructor(cause: unknown) {
    const error = cause instanceof Error ? cause : new Error(String(cause));
    // it sits under a NetworkError's cause, where findErrorBy does not look
    const refused = saslRefusal(error);
    if (refused) {
      super(`SASL authentication failed: ${refused.serverErrorMessage ?? error.message}`, { cause: error });
      this.type = 'SASL_AUTHENTICATION_FAILED';
      this.retriable = false;
      return;
    }
    const main = mainProtocolError(error);
    const protocol = main?.chosen;
    // a metadata lookup for a topic that does not exist ends in a UserError that drops the protocol error: its
    // message is the only sign (base.js: `Unknown topic ${topicName}.`)
    const unknownTopic =
      protocol === undefined && findErrorBy(error, 'code', 'PLT_KFK_USER')?.message.startsWith('Unknown topic ');
    // a refused or dropped connection says why only in a nested system error (ECONNREFUSED, ...)
    const system = protocol === undefined ? systemErrorIn(error) : undefined;
    const message =
      protocol && protocol !== error
        ? `${error.message}: ${protocol.message}${main?.detail ? ` (${main.detail})` : ''}`
        : system && system !== error
          ? `${error.message}: ${system.message}`
          : error.message;
    super(message, { cause: error });
    this.type = unknownTopic
      ? 'UNKNOWN_TOPIC_OR_PARTITION'
      : typeof protocol?.apiId === 'string'
        ? protocol.apiId
        : undefined;
    this.retriable = protocol ? protocol.canRetry !== false : !unknownTopic;
  }
}

/** Socket errors that mean the broker is gone (not a slow answer): refused, reset or broken connections. */
const CONNECTION_LOST: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/** Whether a failed call failed because its broker cannot be reached (a timeout does not count). */
export function isConnectionLost(error: unknown): boolean {
  const code = (systemErrorIn(error) as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && CONNECTION_LOST.has(code);
}

/** `findErrorBy` for any thrown value. */
export function protocolErrorOf(error: unknown, apiId: string): boolean {
  return error instanceof Error && findErrorBy(error, 'apiId', apiId) !== null;
}

/** The broker's SaslAuthenticate answer, when authentication was refused (the server's own words). */
function saslRefusal(error: unknown): { serverErrorMessage?: string } | undefined {
  const found = findInErrorTree(
    error,
    (candidate) => (candidate as { apiId?: unknown } | null)?.apiId === 'SASL_AUTHENTICATION_FAILED',
  );
  return found === undefined ? undefined : (found as { serverErrorMessage?: string });
}

/** The host:port in @platformatic/kafka's "Connection to host:port failed." nearest the failure, else every broker. */
function brokerOf(error: unknown, config: KafkaConnectionConfig): string {
  const failed = findInErrorTree(error, (candidate) =>
    /^Connection to \S+ failed\.$/.test((candidate as { message?: unknown } | null)?.message as string),
  ) as { message: string } | undefined;
  return failed?.message.slice('Connection to '.length, -' failed.'.length) ?? config.brokers.join(',');
}

/**
 * A failure at connect that no retry mends, as one readable error: the TLS handshake (a KafkaTlsError, as the kafkajs
 * adapter gives) or SASL authentication refused (a PlatformaticKafkaError of type SASL_AUTHENTICATION_FAILED, not
 * retriable, whose message is the broker's). Undefined for anything else.
 */
export function permanentConnectError(
  error: unknown,
  config: KafkaConnectionConfig,
): KafkaTlsError | PlatformaticKafkaError | undefined {
  const trust = { caFile: typeof config.ssl === 'object' ? config.ssl.caFile : undefined };
  const tls = permanentTlsError(error, brokerOf(error, config), trust);
  if (tls) return tls;
  return saslRefusal(error) === undefined ? undefined : new PlatformaticKafkaError(error);
}

/**
 * The first request of a client, made once without retries: a certificate the client cannot verify or credentials
 * the broker refuses end the connect after one attempt. @platformatic/kafka retries a failed connection `retries`
 * times whatever the cause (its NetworkError is retriable and it does not look into the cause), which would make the
 * broker log one failed authentication per attempt. Any other failure is left to `connect`, which retries as usual.
 */
export async function connectOnce(
  client: { metadata(options: { topics: string[]; retries: number }): Promise<unknown> },
  config: KafkaConnectionConfig,
  connect: () => Promise<unknown>,
): Promise<void> {
  try {
    await client.metadata({ topics: [], retries: 0 });
  } catch (error) {
    const permanent = permanentConnectError(error, config);
    if (permanent) throw permanent;
  }
  try {
    await connect();
  } catch (error) {
    throw permanentConnectError(error, config) ?? new PlatformaticKafkaError(error);
  }
}
