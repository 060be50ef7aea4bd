import { describe, expect, it } from 'vitest';
import { partitionPauseThresholds } from '../../../src/source/partitionParking.js';

describe('per-partition pause thresholds (second line of backpressure)', () => {
  it('computes a share of 1.5 × maxInFlight per partition, none for a single partition', () => {
    expect(partitionPauseThresholds(100, 2)).toEqual({ high: 75, low: 37 });
    expect(partitionPauseThresholds(5000, 6)).toEqual({ high: 1250, low: 625 });
    expect(partitionPauseThresholds(100, 1).high).toBe(Number.POSITIVE_INFINITY);
    expect(partitionPauseThresholds(2, 10)).toEqual({ high: 1, low: 0 });
  });
});
