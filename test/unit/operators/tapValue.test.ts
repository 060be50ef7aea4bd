import { describe, expect, it } from 'vitest';
import { tapValue } from '../../../operators/tapValue.js';
import { failed } from '../../../src/envelope.js';
import { TributaryError } from '../../../src/errors.js';
import { expectFailed, runOperator, testEnvelope } from '../../support/envelopes.js';

describe('tapValue', () => {
  it('runs the side effect and emits the very same elements', async () => {
    const inputs = [testEnvelope('a'), testEnvelope('b')];
    const seen: string[] = [];
    const outputs = await runOperator(
      inputs,
      tapValue((value: string, el) => seen.push(`${value}@${el.origin.offset}`)),
    );
    expect(outputs[0]).toBe(inputs[0]);
    expect(outputs[1]).toBe(inputs[1]);
    expect(seen).toEqual([`a@${inputs[0]?.origin.offset}`, `b@${inputs[1]?.origin.offset}`]);
  });

  it('turns a throw into a failed element instead of erroring the stream', async () => {
    const outputs = await runOperator(
      [testEnvelope('a'), testEnvelope('bad'), testEnvelope('c')],
      tapValue(
        (value: string) => {
          if (value === 'bad') throw new Error('audit log unavailable');
        },
        { name: 'audit' },
      ),
    );
    expect(outputs.map((el) => el.ok)).toEqual([true, false, true]);
    const failure = expectFailed(outputs[1]);
    expect([failure.stage, failure.error.code, failure.error.message]).toEqual([
      'audit',
      'TRIBUTARY_ERR_PROCESSING',
      'audit log unavailable',
    ]);
  });

  it('passes failed elements through without calling fn', async () => {
    let calls = 0;
    const earlier = failed(testEnvelope('x'), 'up', new TributaryError('TRIBUTARY_ERR_PARSE', 'bad'));
    const [output] = await runOperator(
      [earlier],
      tapValue(() => {
        calls += 1;
      }),
    );
    expect(output).toBe(earlier);
    expect(calls).toBe(0);
  });

  it('rejects an invalid stage name', () => {
    expect(() => tapValue(() => {}, { name: 'a:b' })).toThrowError(/tapValue: invalid options: name/);
  });
});
