/**
 * What the platformatic adapter makes of a failed connect, on error trees built from @platformatic/kafka's own
 * classes in the shape a real broker produced (integration: test/integration/kafka/tls.test.ts): a refused SASL
 * authentication and a certificate the client does not trust each become one readable, non-retriable error.
 */
import {
  AuthenticationError,
  MultipleErrors,
  NetworkError,
  ProtocolError,
  ResponseError,
  TimeoutError,
} from '@platformatic/kafka';
import { describe, expect, it } from 'vitest';
import { describeKafkaError } from '../../../src/cli/kafkaErrors.js';
import { PlatformaticKafkaError, permanentConnectError } from '../../../src/kafka/platformatic/connection.js';
import { KafkaTlsError } from '../../../src/kafka/tlsErrors.js';

const BROKER = '127.0.0.1:9094';
const REFUSAL =
  'Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256';
const config = {
  brokers: [BROKER],
  ssl: { ca: 'PEM', caFile: '/etc/kafka/ca.pem' },
  sasl: { mechanism: 'scram-sha-256' as const, username: 'alice', password: 'hunter2' },
};

/** initProducerId's error after `attempts` connections that each failed with `cause`. */
function retried(attempts: number, cause: () => Error): MultipleErrors {
  const failures = Array.from(
    { length: attempts },
    () =>
      new MultipleErrors('Cannot connect to any broker.', [
        new NetworkError(`Connection to ${BROKER} failed.`, { cause: cause() }),
      ]),
  );
  return new MultipleErrors(`initProducerId failed ${attempts} times.`, failures);
}

function saslRefused(): Error {
  const response = new ResponseError(
    36,
    2,
    { '/': [58, REFUSAL] },
    { errorCode: 58, errorMessage: REFUSAL, authBytes: Buffer.alloc(0), sessionLifetimeMs: 0n },
  );
  return new AuthenticationError('SASL authentication failed.', { cause: response });
}

describe('permanentConnectError', () => {
  it('a refused SASL authentication: type SASL_AUTHENTICATION_FAILED, not retriable, the broker words', () => {
    const error = permanentConnectError(retried(1, saslRefused), config);
    expect(error).toBeInstanceOf(PlatformaticKafkaError);
    expect(error).toMatchObject({
      type: 'SASL_AUTHENTICATION_FAILED',
      retriable: false,
      message: `SASL authentication failed: ${REFUSAL}`,
    });
    expect(describeKafkaError(error, config)).toEqual({
      kind: 'authentication',
      message:
        `authentication failed for user alice (SCRAM-SHA-256) at ${BROKER}: check KAFKA_USERNAME, KAFKA_PASSWORD ` +
        `and KAFKA_SASL_MECHANISM (broker said: SASL authentication failed: ${REFUSAL})`,
    });
  });

  it('a certificate signed by another CA: a KafkaTlsError naming the broker of the failed connection', () => {
    const untrusted = () =>
      Object.assign(new Error('self-signed certificate in certificate chain'), { code: 'SELF_SIGNED_CERT_IN_CHAIN' });
    const error = permanentConnectError(retried(4, untrusted), config);
    expect(error).toBeInstanceOf(KafkaTlsError);
    expect(error).toMatchObject({ problem: 'untrusted', broker: BROKER, retriable: false });
    expect(error?.message).toContain('check that KAFKA_SSL_CA_FILE (/etc/kafka/ca.pem) holds the CA');
  });

  it('leaves transient failures (a timeout, a protocol error worth retrying) to the retrying call', () => {
    expect(
      permanentConnectError(
        retried(1, () => new TimeoutError('Connection timed out.')),
        config,
      ),
    ).toBeUndefined();
    expect(permanentConnectError(new ProtocolError('COORDINATOR_LOAD_IN_PROGRESS'), config)).toBeUndefined();
  });
});

describe('PlatformaticKafkaError', () => {
  it('reads a SASL refusal under the NetworkError cause, where findErrorBy does not look', () => {
    const error = new PlatformaticKafkaError(retried(4, saslRefused));
    expect(error).toMatchObject({ type: 'SASL_AUTHENTICATION_FAILED', retriable: false });
  });

  it('keeps the protocol error type of other failures', () => {
    const error = new PlatformaticKafkaError(new ProtocolError('MESSAGE_TOO_LARGE'));
    expect(error).toMatchObject({ type: 'MESSAGE_TOO_LARGE', retriable: false });
  });
});
