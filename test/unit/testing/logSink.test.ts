import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createSinkLogger, logSink } from '../../../src/testing/index.js';

describe('logSink', () => {
  it('turns every line back into an object, with the engine logger configuration (labels, redaction)', () => {
    const sink = logSink();
    const logger = createSinkLogger(sink, 'debug');
    logger.child({ pipeline: 'p' }).warn({ offset: '7', sasl: { password: 'hunter2' } }, 'dead-lettered');
    logger.trace('not kept');
    logger.debug('kept');
    expect(sink.lines).toHaveLength(2);
    expect(sink.lines[0]).toMatchObject({
      level: 'warn',
      pipeline: 'p',
      offset: '7',
      msg: 'dead-lettered',
      service: 'tributary',
      sasl: { password: '[REDACTED]' },
    });
    expect(typeof sink.lines[0]?.time).toBe('string');
    expect(sink.atLevel('debug').map((l) => l.msg)).toEqual(['kept']);
    sink.clear();
    expect(sink.lines).toEqual([]);
  });

  it('works as a plain pino destination (numeric levels) and keeps unparsable lines', () => {
    const sink = logSink();
    pino({}, sink).info({ a: 1 }, 'hello');
    sink.write('not json\n');
    expect(sink.lines[0]).toMatchObject({ level: 30, a: 1, msg: 'hello' });
    expect(sink.atLevel(30)).toHaveLength(1);
    expect(sink.lines[1]).toEqual({ level: 'unparsed', msg: 'not json' });
  });
});
