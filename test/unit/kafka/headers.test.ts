import { describe, expect, it } from 'vitest';
import {
  int32Header,
  int64Header,
  readDecimalHeader,
  readIntegerHeader,
  readTextHeader,
  truncateUtf8,
  withoutHeaders,
} from '../../../src/kafka/headers.js';

describe('header codecs', () => {
  it('read the last value of a repeated header, as text', () => {
    expect(readTextHeader([Buffer.from('first'), 'second'])).toBe('second');
    expect(readTextHeader(Buffer.from('héllo'))).toBe('héllo');
    expect(readTextHeader(undefined)).toBeUndefined();
  });

  it("read Spring's binary integers and decimal text; decimal headers only as text", () => {
    expect(readIntegerHeader(int32Header(-7))).toBe(-7n);
    expect(readIntegerHeader(int64Header(9_007_199_254_740_993n))).toBe(9_007_199_254_740_993n);
    expect(readIntegerHeader('42')).toBe(42n);
    // four ASCII digits are four bytes: a Spring int32 to readIntegerHeader, the number 1000 to readDecimalHeader
    expect(readIntegerHeader(Buffer.from('1000'))).toBe(BigInt(Buffer.from('1000').readInt32BE()));
    expect(readDecimalHeader(Buffer.from('1000'))).toBe(1000n);
    expect(readDecimalHeader(' 12 ')).toBe(12n);
    expect(readDecimalHeader('1'.repeat(20))).toBeUndefined();
  });

  it('drop the named headers and the absent ones, keeping the rest as they are', () => {
    const bytes = Buffer.from('x');
    expect(
      withoutHeaders({ a: '1', 'kafka_dlt-x': bytes, b: [bytes, 'y'], c: undefined }, (n) => n.startsWith('kafka_')),
    ).toEqual({
      a: '1',
      b: [bytes, 'y'],
    });
  });

  it('truncate text to a byte budget on a character boundary, ending with an ellipsis', () => {
    expect(truncateUtf8('short', 10)).toBe('short');
    for (const text of ['abcdefghij', 'é'.repeat(10), '😀'.repeat(10), `a${'€'.repeat(10)}`]) {
      for (let max = 3; max <= 20; max++) {
        const cut = truncateUtf8(text, max);
        expect(Buffer.byteLength(cut), `${text} ${max}`).toBeLessThanOrEqual(max);
        expect(cut).not.toContain('\uFFFD');
        if (Buffer.byteLength(text) > max) expect(text.startsWith(cut.slice(0, -1)) && cut.endsWith('…')).toBe(true);
      }
    }
  });
});
