import { hostname } from 'node:os';
import type { DestinationStream } from 'pino';
import { describe, expect, it } from 'vitest';
import type { RecordOrigin } from '../../src/envelope.js';
import { createLogger, recordBindings } from '../../src/logger.js';

/** A pino destination that keeps every line, parsed (like pino's test `sink()`). */
function sink(): DestinationStream & { lines: Record<string, unknown>[]; raw: string[] } {
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];
  return {
    lines,
    raw,
    write(chunk: string) {
      for (const line of chunk.split('\n')) {
        if (line === '') continue;
        raw.push(line);
        lines.push(JSON.parse(line) as Record<string, unknown>);
      }
    },
  };
}

const origin: RecordOrigin = {
  pipeline: 'transcript-worker',
  groupId: 'transcript-worker',
  topic: 'video.transcript.requested',
  partition: 3,
  offset: 9_007_199_254_740_993n,
  key: Buffer.from('video-42'),
  headers: { 'correlation-id': 'c-123' },
  timestamp: '1700000000000',
  raw: Buffer.from('{}'),
  correlationId: 'c-123',
  lane: 'video.transcript.requested-3',
};

describe('createLogger', () => {
  it('writes one JSON object per line with level label, ISO time, service, pid and hostname', () => {
    const out = sink();
    const logger = createLogger({ level: 'info', destination: out });
    logger.info({ records: 5 }, 'batch admitted');
    logger.debug('not written at info');
    expect(out.lines).toHaveLength(1);
    const line = out.lines[0]!;
    expect(line).toMatchObject({
      level: 'info',
      service: 'tributary',
      pid: process.pid,
      hostname: hostname(),
      records: 5,
      msg: 'batch admitted',
    });
    expect(typeof line.time).toBe('string');
    expect(new Date(line.time as string).toISOString()).toBe(line.time);
    expect(out.raw[0]).not.toContain('\n');
  });

  it('honours the level, silent included', () => {
    const out = sink();
    const logger = createLogger({ level: 'debug', destination: out });
    logger.debug('one');
    logger.trace('two');
    expect(out.lines.map((line) => [line.level, line.msg])).toEqual([['debug', 'one']]);

    const quiet = sink();
    createLogger({ level: 'silent', destination: quiet }).fatal('nothing');
    expect(quiet.lines).toEqual([]);
  });

  it('redacts passwords, secrets and authorization headers wherever they are logged', () => {
    const out = sink();
    const logger = createLogger({ destination: out });
    const secret = 'hunter2-S3cr3t!';
    logger.info({ password: secret }, 'top');
    logger.info({ sasl: { mechanism: 'plain', username: 'u', password: secret } }, 'sasl');
    logger.info({ kafka: { sasl: { mechanism: 'plain', username: 'u', password: secret } } }, 'kafka');
    logger.info({ config: { kafka: { sasl: { password: secret } } } }, 'config');
    logger.info({ env: { KAFKA_PASSWORD: secret, KAFKA_BROKERS: 'kafka:9092' } }, 'env');
    logger.info({ KAFKA_PASSWORD: secret }, 'env var');
    logger.info({ record: { headers: { authorization: `Bearer ${secret}`, 'correlation-id': 'c-1' } } }, 'headers');
    logger.info({ client: { secret } }, 'client');

    expect(out.raw.join('\n')).not.toContain(secret);
    const byMsg = Object.fromEntries(out.lines.map((line) => [line.msg, line]));
    expect(byMsg.top).toMatchObject({ password: '[REDACTED]' });
    expect(byMsg.sasl).toMatchObject({ sasl: { mechanism: 'plain', username: 'u', password: '[REDACTED]' } });
    expect(byMsg.kafka).toMatchObject({ kafka: { sasl: { username: 'u', password: '[REDACTED]' } } });
    expect(byMsg.config).toMatchObject({ config: { kafka: { sasl: { password: '[REDACTED]' } } } });
    expect(byMsg.env).toMatchObject({ env: { KAFKA_PASSWORD: '[REDACTED]', KAFKA_BROKERS: 'kafka:9092' } });
    expect(byMsg['env var']).toMatchObject({ KAFKA_PASSWORD: '[REDACTED]' });
    expect(byMsg.headers).toMatchObject({
      record: { headers: { authorization: '[REDACTED]', 'correlation-id': 'c-1' } },
    });
    expect(byMsg.client).toMatchObject({ client: { secret: '[REDACTED]' } });
  });

  it('redacts in child bindings too', () => {
    const out = sink();
    createLogger({ destination: out })
      .child({ sasl: { password: 'child-secret' } })
      .info('from child');
    expect(out.raw[0]).not.toContain('child-secret');
    expect(out.lines[0]).toMatchObject({ sasl: { password: '[REDACTED]' }, msg: 'from child' });
  });

  it('serializes errors under err and error with message and stack', () => {
    const out = sink();
    const logger = createLogger({ destination: out });
    logger.error({ err: new TypeError('boom') }, 'failed');
    logger.error({ error: new Error('bang') }, 'failed again');
    expect(out.lines[0]).toMatchObject({ level: 'error', err: { type: 'TypeError', message: 'boom' } });
    expect(String((out.lines[0]!.err as { stack: string }).stack)).toContain('TypeError: boom');
    expect(out.lines[1]).toMatchObject({ error: { type: 'Error', message: 'bang' } });
  });

  it('pretty-prints through pino-pretty when asked', () => {
    const lines: string[] = [];
    const logger = createLogger({ pretty: true, destination: { write: (chunk: string) => lines.push(chunk) } });
    logger.info({ records: 2 }, 'pretty line');
    const text = lines.join('');
    expect(text).toContain('INFO');
    expect(text).toContain('pretty line');
    expect(text).toContain('records: 2');
    expect(() => JSON.parse(text)).toThrow();
  });
});

describe('recordBindings', () => {
  it('gives topic, partition, offset as a string and correlation id', () => {
    expect(recordBindings(origin)).toEqual({
      topic: 'video.transcript.requested',
      partition: 3,
      offset: '9007199254740993',
      correlationId: 'c-123',
    });
  });

  it("completes the pipeline logger's bindings: one line carries pipeline, group and the record, each key once", () => {
    const out = sink();
    const pipelineLogger = createLogger({ destination: out }).child({ pipeline: 'transcript-worker', groupId: 'g' });
    pipelineLogger.warn({ stage: 'publish', ...recordBindings(origin) }, 'record dead-lettered');
    expect(out.lines[0]).toMatchObject({
      pipeline: 'transcript-worker',
      groupId: 'g',
      stage: 'publish',
      topic: 'video.transcript.requested',
      partition: 3,
      offset: '9007199254740993',
      correlationId: 'c-123',
      service: 'tributary',
    });
    expect(out.raw[0]?.match(/"pipeline"/g)).toHaveLength(1);
  });
});
