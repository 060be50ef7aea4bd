import { describe, expect, it } from 'vitest';
import { serializeValue } from '../../../src/runtime/serializeValue.js';

describe('serializeValue (the default value of a published record)', () => {
  it('keeps Buffers and strings, turns null and undefined into a tombstone', () => {
    const bytes = Buffer.from('raw');
    expect(serializeValue(bytes)).toBe(bytes);
    expect(serializeValue('text')).toBe('text');
    expect(serializeValue(null)).toBeNull();
    expect(serializeValue(undefined)).toBeNull();
  });

  it('writes anything else as JSON', () => {
    expect(serializeValue({ id: 1, tags: ['a'], nested: { ok: true } })).toBe(
      '{"id":1,"tags":["a"],"nested":{"ok":true}}',
    );
    expect(serializeValue(42)).toBe('42');
    expect(serializeValue({ toJSON: () => ({ via: 'toJSON' }) })).toBe('{"via":"toJSON"}');
  });

  it('writes bigints as decimal text, at any depth', () => {
    expect(serializeValue({ offset: 12n, list: [1n, { deep: -9007199254740993n }], n: 1 })).toBe(
      '{"offset":"12","list":["1",{"deep":"-9007199254740993"}],"n":1}',
    );
    expect(serializeValue(5n)).toBe('"5"');
  });

  it('still refuses what JSON cannot hold (a cycle) with a TypeError', () => {
    const cyclic: { self?: unknown } = {};
    cyclic.self = cyclic;
    expect(() => serializeValue(cyclic)).toThrow(TypeError);
  });

  it('lets an error thrown by toJSON through', () => {
    const failing = {
      toJSON() {
        throw new RangeError('no');
      },
    };
    expect(() => serializeValue(failing)).toThrow(RangeError);
  });
});
