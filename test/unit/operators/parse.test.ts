import { describe, expect, expectTypeOf, it } from 'vitest';
import { firstInvalidUtf8 } from '../../../operators/internal/rawValue.js';
import { parse } from '../../../operators/parse.js';
import { type Element, failed, type RawValue } from '../../../src/envelope.js';
import { TributaryError } from '../../../src/errors.js';
import { expectFailed, expectOk, rawEnvelope, runOperator } from '../../support/envelopes.js';

async function one<T>(operator: ReturnType<typeof parse<T>>, value: Buffer | string | null): Promise<Element<T>> {
  const [output] = await runOperator<Element<RawValue>, Element<T>>([rawEnvelope(value)], operator);
  if (output === undefined) throw new Error('no output');
  return output;
}

describe('parse', () => {
  describe("'string'", () => {
    it('decodes strict UTF-8', async () => {
      const output = await one(parse('string'), 'héllo € 😀');
      expect(expectOk(output).value).toBe('héllo € 😀');
    });

    it('fails tombstones, oversized values and invalid UTF-8 with TRIBUTARY_ERR_PARSE', async () => {
      const tombstone = expectFailed(await one(parse('string'), null));
      expect([tombstone.stage, tombstone.error.code, tombstone.error.message]).toEqual([
        'parse',
        'TRIBUTARY_ERR_PARSE',
        'tombstone (null value)',
      ]);
      const big = expectFailed(await one(parse('string', { maxBytes: 4 }), 'hello'));
      expect(big.error.message).toBe('value of 5 bytes exceeds maxBytes 4');
      const bad = expectFailed(await one(parse('string', { name: 'decode' }), Buffer.from([0x61, 0x62, 0xff])));
      expect(bad.stage).toBe('decode');
      expect(bad.error.message).toBe('value is not valid UTF-8: invalid byte sequence at byte offset 2');
    });
  });

  describe("'bytes'", () => {
    it('hands the Buffer on unchanged, but still refuses tombstones and oversized values', async () => {
      const bytes = Buffer.from([0x00, 0xff, 0x10]);
      expect(expectOk(await one(parse('bytes'), bytes)).value).toBe(bytes);
      expect(expectFailed(await one(parse('bytes'), null)).error.message).toBe('tombstone (null value)');
      expect(expectFailed(await one(parse('bytes', { maxBytes: 2 }), bytes)).error.code).toBe('TRIBUTARY_ERR_PARSE');
    });
  });

  describe('decoder function', () => {
    it("uses the decoder's result and passes it the element", async () => {
      const seen: bigint[] = [];
      const decode = parse((raw, element) => {
        seen.push(element.origin.offset);
        return raw.readUInt16BE(0);
      });
      const input = rawEnvelope(Buffer.from([0x01, 0x02]), { offset: 7 });
      const [output] = await runOperator<Element<RawValue>, Element<number>>([input], decode);
      expect(expectOk(output).value).toBe(258);
      expect(seen).toEqual([7n]);
    });

    it('turns what the decoder throws into a failed element', async () => {
      const cause = new RangeError('short buffer');
      const output = expectFailed(
        await one(
          parse(() => {
            throw cause;
          }),
          'x',
        ),
      );
      expect(output.error.code).toBe('TRIBUTARY_ERR_PARSE');
      expect(output.error.message).toBe('decoder failed: short buffer');
      expect(output.error.cause).toBe(cause);
    });

    it('refuses a decoder that returns a Promise (decoders are synchronous)', async () => {
      const output = expectFailed(
        await one(
          parse(async () => 1),
          'x',
        ),
      );
      expect(output.error.message).toBe('decoder returned a Promise; parse() decoders must be synchronous');
    });

    it('never calls the decoder for a tombstone', async () => {
      let calls = 0;
      const output = await one(
        parse(() => {
          calls += 1;
          return 1;
        }),
        null,
      );
      expect(expectFailed(output).error.message).toBe('tombstone (null value)');
      expect(calls).toBe(0);
    });
  });

  it('passes failed elements through untouched', async () => {
    const earlier = failed(rawEnvelope('x'), 'upstream', new TributaryError('TRIBUTARY_ERR_PROCESSING', 'x'));
    const [output] = await runOperator<Element<RawValue>, Element<string>>([earlier], parse('string'));
    expect(output).toBe(earlier);
  });

  it('types its output by codec', () => {
    expectTypeOf(parse('string')).returns.toEqualTypeOf<import('rxjs').Observable<Element<string>>>();
    expectTypeOf(parse('bytes')).returns.toEqualTypeOf<import('rxjs').Observable<Element<Buffer>>>();
    expectTypeOf(parse((raw) => raw.length > 0)).returns.toEqualTypeOf<import('rxjs').Observable<Element<boolean>>>();
  });

  it('rejects an unknown codec and invalid options when the pipeline is built', () => {
    expect(() => parse('json' as 'string')).toThrowError(/parse: invalid options/);
    expect(() => parse('string', { maxBytes: -1 })).toThrowError(/maxBytes/);
    expect(() => parse('string', { name: 'a/b' })).toThrowError(/name/);
  });
});

describe('firstInvalidUtf8', () => {
  it.each([
    ['ASCII', [0x61, 0x62], -1],
    ['2-, 3- and 4-byte sequences', [0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80], -1],
    ['a stray continuation byte', [0x61, 0x80], 1],
    ['an overlong 2-byte form', [0xc0, 0x80], 0],
    ['an overlong 3-byte form', [0x61, 0xe0, 0x80, 0x80], 1],
    ['a UTF-16 surrogate', [0xed, 0xa0, 0x80], 0],
    ['a code point above U+10FFFF', [0xf4, 0x90, 0x80, 0x80], 0],
    ['a truncated sequence at the end', [0x61, 0x62, 0xe2, 0x82], 2],
    ['an invalid lead byte', [0xff], 0],
  ])('%s', (_label, bytes, expected) => {
    expect(firstInvalidUtf8(Uint8Array.from(bytes))).toBe(expected);
    let decodes = true;
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bytes));
    } catch {
      decodes = false;
    }
    expect(decodes).toBe(expected === -1);
  });
});
