import { map } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { parseJson } from '../../../operators/parseJson.js';
import { type Element, failed, type RawValue } from '../../../src/envelope.js';
import { isRetriable, TributaryError } from '../../../src/errors.js';
import { expectFailed, expectOk, rawEnvelope, runOperator } from '../../support/envelopes.js';
import { summarize, testScheduler } from '../../support/marbles.js';

async function parseOne(value: Buffer | string | null, config?: Parameters<typeof parseJson>[0]) {
  const input = rawEnvelope(value, { topic: 'orders', partition: 3, offset: 42 });
  const [output, ...rest] = await runOperator<Element<RawValue>, Element<unknown>>([input], parseJson(config));
  expect(rest).toEqual([]);
  return { input, output };
}

function jsonParseMessage(text: string): string {
  try {
    JSON.parse(text);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected JSON.parse to fail');
}

describe('parseJson', () => {
  it('decodes UTF-8 JSON and keeps the origin, attempts and ticket', async () => {
    const { input, output } = await parseOne('{"id":1,"name":"Zoë €"}');
    const ok = expectOk(output);
    expect(ok.value).toEqual({ id: 1, name: 'Zoë €' });
    expect(ok.origin).toBe(input.origin);
    expect(ok.ticket).toBe(input.ticket);
    expect(ok.attempts).toBe(0);
    expect(input.ticket.finished).toBe(false);
  });

  it('drops a leading byte order mark', async () => {
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('[1,2]')]);
    expect(expectOk((await parseOne(bytes)).output).value).toEqual([1, 2]);
  });

  it('fails a tombstone with TRIBUTARY_ERR_PARSE located at the record', async () => {
    const { input, output } = await parseOne(null);
    const failure = expectFailed(output);
    expect(failure.stage).toBe('parseJson');
    expect(failure.error).toBeInstanceOf(TributaryError);
    expect(failure.error.code).toBe('TRIBUTARY_ERR_PARSE');
    expect(failure.error.message).toBe('tombstone (null value)');
    expect(failure.error.topic).toBe('orders');
    expect(failure.error.partition).toBe(3);
    expect(failure.error.offset).toBe(42n);
    expect(isRetriable(failure.error)).toBe(false);
    expect(failure.origin).toBe(input.origin);
    expect(failure.ticket.finished).toBe(false);
  });

  it('fails invalid UTF-8 naming the first bad byte', async () => {
    const bytes = Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]);
    const failure = expectFailed((await parseOne(bytes)).output);
    expect(failure.error.code).toBe('TRIBUTARY_ERR_PARSE');
    expect(failure.error.message).toBe('value is not valid UTF-8: invalid byte sequence at byte offset 6');
    expect(failure.error.details).toEqual({ byteOffset: 6 });
    expect(failure.error.cause).toBeInstanceOf(TypeError);
  });

  it("fails malformed JSON with JSON.parse's message", async () => {
    const text = '{"id": 1,';
    const failure = expectFailed((await parseOne(text)).output);
    expect(failure.error.code).toBe('TRIBUTARY_ERR_PARSE');
    expect(failure.error.message).toBe(`malformed JSON: ${jsonParseMessage(text)}`);
    expect(failure.error.cause).toBeInstanceOf(SyntaxError);
  });

  it("locates a failure by its record, not by a stack trace (the cause keeps its own), and leaves Node's frame limit as it was", async () => {
    const frames = Error.stackTraceLimit;
    const failure = expectFailed((await parseOne('{"id": 1,')).output);
    expect(failure.error.stack).not.toMatch(/\n\s+at /);
    expect((failure.error.cause as Error).stack).toMatch(/\n\s+at /);
    expect(Error.stackTraceLimit).toBe(frames);
    expect(new Error('elsewhere').stack).toMatch(/\n\s+at /);
  });

  it('fails an empty value as malformed JSON (it is not a tombstone)', async () => {
    const failure = expectFailed((await parseOne('')).output);
    expect(failure.error.message).toBe(`malformed JSON: ${jsonParseMessage('')}`);
  });

  it('fails values longer than maxBytes, before decoding them', async () => {
    const exact = await parseOne('"12345678"', { maxBytes: 10 });
    expect(expectOk(exact.output).value).toBe('12345678');
    const over = expectFailed((await parseOne(Buffer.from([0x22, 0xff, 0xff, 0xff]), { maxBytes: 3 })).output);
    expect(over.error.message).toBe('value of 4 bytes exceeds maxBytes 3');
    expect(over.error.details).toEqual({ bytes: 4, maxBytes: 3 });
  });

  it('limits values to 1 MiB by default', async () => {
    const justFits = `"${'a'.repeat(1_048_576 - 2)}"`;
    expect(expectOk((await parseOne(justFits)).output).value).toHaveLength(1_048_574);
    const failure = expectFailed((await parseOne(`${justFits} `)).output);
    expect(failure.error.message).toBe('value of 1048577 bytes exceeds maxBytes 1048576');
  });

  it('uses the configured stage name', async () => {
    const failure = expectFailed((await parseOne('nope', { name: 'orders.parse-v2' })).output);
    expect(failure.stage).toBe('orders.parse-v2');
  });

  it('passes failed elements through untouched', async () => {
    const earlier = failed(rawEnvelope('{}'), 'upstream', new TributaryError('TRIBUTARY_ERR_PROCESSING', 'x'));
    const [output] = await runOperator<Element<RawValue>, Element<unknown>>([earlier], parseJson());
    expect(output).toBe(earlier);
  });

  it('never errors the stream: each record yields one element, in order, at the time it arrives', () => {
    const a = rawEnvelope('{"n":1}', { offset: 1 });
    const b = rawEnvelope('{"n":', { offset: 2 });
    const c = rawEnvelope(null, { offset: 3 });
    const d = rawEnvelope('2', { offset: 4 });
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold<Element<RawValue>>('-a-b--c-d-|', { a, b, c, d });
      expectObservable(source.pipe(parseJson(), map(summarize))).toBe('-A-B--C-D-|', {
        A: 'ok 1 {"n":1} x0',
        B: 'failed 2 parseJson TRIBUTARY_ERR_PARSE x0',
        C: 'failed 3 parseJson TRIBUTARY_ERR_PARSE x0',
        D: 'ok 4 2 x0',
      });
      expectSubscriptions(source.subscriptions).toBe('^---------!');
    });
  });

  it('rejects invalid options when the pipeline is built', () => {
    expect(() => parseJson({ name: 'has space' })).toThrowError(/parseJson: invalid options: name: a stage name/);
    expect(() => parseJson({ maxBytes: 0 })).toThrowError(TributaryError);
    expect(() => parseJson({ maxBytes: 1.5 })).toThrowError(/maxBytes/);
    expect(() => parseJson({ maxbytes: 10 } as never)).toThrowError(/maxbytes/);
    try {
      parseJson({ name: '' });
    } catch (error) {
      expect((error as TributaryError).code).toBe('TRIBUTARY_ERR_PIPELINE_DEFINITION');
    }
  });
});
