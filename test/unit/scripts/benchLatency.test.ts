/**
 * The benchmark's latency: from a record's append to the input to its first append to the output, both stamped by
 * the broker, joined by the record's id after the run (bench/latency.ts).
 */
import { describe, expect, it } from 'vitest';
import { type Appended, appendLatencies, percentile } from '../../../bench/latency.js';

const at = (id: number, appendedAt: number, sentAt = 0): Appended => ({ id, sentAt, appendedAt });

describe('appendLatencies', () => {
  it('joins input and output by id: output append − input append, and output append − send', () => {
    const input = [at(0, 100, 95), at(1, 110, 104), at(2, 120, 118)];
    const output = [at(2, 150, 118), at(0, 103, 95), at(1, 140, 104)];
    expect(appendLatencies(input, output, 0)).toEqual({
      appendToAppend: [3, 30, 30],
      sendToAppend: [8, 32, 36],
    });
  });

  it('leaves out the warm-up (ids below fromId) and records missing on either side', () => {
    const input = [at(0, 100), at(1, 110), at(2, 120), at(3, 130)];
    const output = [at(0, 101), at(1, 115), at(3, 139), at(7, 200)];
    expect(appendLatencies(input, output, 1).appendToAppend).toEqual([5, 9]);
  });

  it('counts a record written twice (at-least-once) at its first append to the output', () => {
    const input = [at(0, 100), at(0, 100)];
    const output = [at(0, 190), at(0, 120), at(0, 150)];
    expect(appendLatencies(input, output, 0).appendToAppend).toEqual([20]);
  });
});

describe('percentile', () => {
  it('is the nearest rank: the smallest value with at least p % of the values at or below it', () => {
    const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
    expect([percentile(sorted, 50), percentile(sorted, 99), percentile(sorted, 100)]).toEqual([50, 99, 100]);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
  });
});
