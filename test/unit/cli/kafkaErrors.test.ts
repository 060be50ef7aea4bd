import { KafkaJSConnectionError, KafkaJSNumberOfRetriesExceeded, KafkaJSSASLAuthenticationError } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { describeKafkaError } from '../../../src/cli/kafkaErrors.js';
import { createPlatformaticClient } from '../../../src/kafka/platformaticClient.js';

/** kafkajs' typings declare no constructor arguments for this class; the runtime takes the message. */
const SaslError = KafkaJSSASLAuthenticationError as unknown as new (message: string) => Error;

const scram = {
  brokers: ['kafka-1:9094', 'kafka-2:9094'],
  sasl: { mechanism: 'scram-sha-256' as const, username: 'alice', password: 'hunter2' },
};

describe('describeKafkaError', () => {
  it('names the user and mechanism when SASL authentication fails, and never the password', () => {
    const error = new SaslError(
      'SASL SCRAM SHA256 authentication failed: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256',
    );
    const problem = describeKafkaError(error, scram);
    expect(problem.kind).toBe('authentication');
    expect(problem.message).toBe(
      'authentication failed for user alice (SCRAM-SHA-256) at kafka-1:9094,kafka-2:9094: check KAFKA_USERNAME, ' +
        'KAFKA_PASSWORD and KAFKA_SASL_MECHANISM (broker said: SASL SCRAM SHA256 authentication failed: ' +
        'Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256)',
    );
    expect(problem.message).not.toContain('hunter2');
  });

  it('finds an authentication failure wrapped by retries', () => {
    const inner = new SaslError('SASL PLAIN authentication failed');
    const outer = new KafkaJSNumberOfRetriesExceeded(inner, { retryCount: 5, retryTime: 1000 });
    const problem = describeKafkaError(outer, {
      brokers: ['k:9092'],
      sasl: { mechanism: 'plain', username: 'bob', password: 'x' },
    });
    expect(problem.kind).toBe('authentication');
    expect(problem.message).toMatch(/^authentication failed for user bob \(PLAIN\) at k:9092/);
  });

  it('says SASL is not configured when the broker wants it and the client has none', () => {
    const problem = describeKafkaError(new SaslError('needs SASL'), { brokers: ['k:9092'] });
    expect(problem.message).toContain('no SASL configured: set KAFKA_SASL_MECHANISM');
  });

  it('reports an unreachable broker with the innermost reason and the variable to check', () => {
    const connection = new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:1', {
      broker: '127.0.0.1:1',
      code: 'ECONNREFUSED',
    });
    const retried = new KafkaJSNumberOfRetriesExceeded(connection, { retryCount: 5, retryTime: 3000 });
    const problem = describeKafkaError(retried, { brokers: ['127.0.0.1:1'] });
    expect(problem.kind).toBe('connection');
    expect(problem.message).toMatch(
      /^cannot connect to Kafka at 127\.0\.0\.1:1: .*ECONNREFUSED.* \(check KAFKA_BROKERS\)$/,
    );
  });

  it('reports an unreachable broker the same way for the platformatic adapter (its reason sits in nested errors)', async () => {
    // a real refusal: nothing listens on port 1 of this machine
    const admin = createPlatformaticClient({ brokers: ['127.0.0.1:1'] }).admin();
    const failure = await admin.connect().then(
      () => undefined,
      (error: unknown) => error,
    );
    await admin.disconnect().catch(() => {});
    const problem = describeKafkaError(failure, { brokers: ['127.0.0.1:1'] });
    expect(problem.kind).toBe('connection');
    expect(problem.message).toMatch(
      /^cannot connect to Kafka at 127\.0\.0\.1:1: .*ECONNREFUSED.* \(check KAFKA_BROKERS\)$/,
    );
  });

  it('reports TLS failures with the TLS variables', () => {
    const tls = Object.assign(new Error('self-signed certificate in certificate chain'), {
      code: 'SELF_SIGNED_CERT_IN_CHAIN',
    });
    const problem = describeKafkaError(tls, { brokers: ['k:9093'], ssl: true });
    expect(problem.kind).toBe('tls');
    expect(problem.message).toBe(
      'TLS handshake with k:9093 failed: self-signed certificate in certificate chain (check KAFKA_SSL and KAFKA_SSL_CA_FILE)',
    );
  });

  it('says which topics may be missing and how to create them', () => {
    const missing = Object.assign(new Error('This server does not host this topic-partition'), {
      type: 'UNKNOWN_TOPIC_OR_PARTITION',
    });
    const problem = describeKafkaError(missing, { brokers: ['k:9092'] }, { topics: ['orders', 'orders.dlq'] });
    expect(problem).toEqual({
      kind: 'missing-topic',
      message:
        "a topic does not exist (one of orders, orders.dlq): create the pipelines' topics with `tributary topics create` " +
        '(broker said: This server does not host this topic-partition)',
    });
  });

  it('passes other errors through with their own message', () => {
    const problem = describeKafkaError(new Error('reading offsets of t failed: nope'), { brokers: ['k:9092'] });
    expect(problem).toEqual({ kind: 'other', message: 'reading offsets of t failed: nope' });
  });
});
