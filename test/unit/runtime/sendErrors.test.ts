/** How the shared producer classifies a failed send (a broker outage must never make a dead letter). */
import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { isPermanentSendError } from '../../../src/runtime/sendErrors.js';

const { KafkaJSConnectionError, KafkaJSProtocolError } = kafkajs;
// kafkajs' typings give these one parameter; at run time they take their options as kafkajs' own code passes them
type Wrapping<O> = new (error: Error, options: O) => Error;
const KafkaJSNumberOfRetriesExceeded = kafkajs.KafkaJSNumberOfRetriesExceeded as unknown as Wrapping<{
  retryCount: number;
  retryTime: number;
}>;
const KafkaJSNonRetriableError = kafkajs.KafkaJSNonRetriableError as unknown as Wrapping<{ cause?: Error }>;

describe('isPermanentSendError', () => {
  it('is transient for a broker that cannot be reached, however deep kafkajs nested its retriers', () => {
    const refused = new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9092');
    const exhausted = new KafkaJSNumberOfRetriesExceeded(refused, { retryCount: 5, retryTime: 1000 });
    // what an outer retrier throws when an inner one gave up: retriable false, the connection error as its cause
    const rethrown = new KafkaJSNonRetriableError(exhausted, { cause: refused });
    expect(isPermanentSendError(refused)).toBe(false);
    expect(isPermanentSendError(exhausted)).toBe(false);
    expect(isPermanentSendError(rethrown)).toBe(false);
  });

  it('is permanent for a refusal of the record or of its topic', () => {
    // kafkajs builds protocol errors from its error-code table entries
    const protocolError = (entry: { message: string; type: string; code: number; retriable: boolean }) =>
      new KafkaJSProtocolError(entry as unknown as Error);
    const tooLarge = protocolError({
      message: 'The request included a message larger than the max message size the server will accept',
      type: 'MESSAGE_TOO_LARGE',
      code: 10,
      retriable: false,
    });
    const unknownTopic = new KafkaJSNonRetriableError(
      protocolError({
        message: 'This server does not host this topic-partition',
        type: 'UNKNOWN_TOPIC_OR_PARTITION',
        code: 3,
        retriable: true,
      }),
      {},
    );
    expect(isPermanentSendError(tooLarge)).toBe(true);
    expect(isPermanentSendError(unknownTopic)).toBe(true);
  });
});
