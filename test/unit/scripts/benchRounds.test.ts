/**
 * The workload benchmark with several rounds (`npm run bench -- --repeat N`): the median round stands for each
 * contender, whole (rate, RSS, CPU, counts from one run), the 10–90 % rate is the median of the rounds', and the
 * table shows the range over the rounds.
 */
import { describe, expect, it } from 'vitest';
import type { VariantResult } from '../../../bench/variant.js';
import {
  renderWorkload,
  rowRate,
  rowSteadyRate,
  settleRounds,
  type WorkloadRound,
  type WorkloadRow,
} from '../../../bench/workload/workloadReport.js';

function run(recordsPerSecond: number, steady: number | null, peakRssMb: number): VariantResult {
  return {
    variant: 'tributaryWorkload',
    mode: 'throughput',
    records: 1000,
    outputRecords: 1000,
    seconds: 1000 / recordsPerSecond,
    recordsPerSecond,
    committedSeconds: null,
    steadyRecordsPerSecond: steady,
    progress: [],
    peakRssMb,
    startRssMb: 50,
    peakHeapUsedMb: 40,
    peakExternalMb: 10,
    cpuSeconds: 1,
    brokerCpuSeconds: null,
    otherCpuSeconds: null,
    availableCpuSeconds: 2,
  };
}

const round = (rate: number, steady: number | null, rss: number, output = 990): WorkloadRound => ({
  throughput: run(rate, steady, rss),
  outputCount: output,
  dlqCount: 10,
});

describe('workload rounds', () => {
  it('three rounds: the median round stands for the row; the 10–90 % rate is the median of the three', () => {
    const row: WorkloadRow = {
      id: 'tributary',
      label: '(a) Tributary',
      rounds: [round(50_000, 70_000, 400), round(40_000, 90_000, 300, 991), round(60_000, 60_000, 500)],
    };
    settleRounds(row);
    expect(rowRate(row)).toBe(50_000);
    expect(row.throughput?.peakRssMb).toBe(400);
    expect(row.outputCount).toBe(990);
    expect(rowSteadyRate(row)).toBe(70_000);
    expect(row.error).toBeUndefined();
  });

  it('an even count takes the lower middle round; a failed round is left out', () => {
    const row: WorkloadRow = {
      id: 'kafkajs',
      label: '(b) kafkajs loop',
      rounds: [round(30_000, 35_000, 300), { error: 'timed out' }, round(20_000, 25_000, 200)],
    };
    settleRounds(row);
    expect(rowRate(row)).toBe(20_000);
    expect(rowSteadyRate(row)).toBe(30_000);
    expect(row.error).toBeUndefined();
  });

  it('every round failed: the row carries the last error', () => {
    const row: WorkloadRow = { id: 'streams', label: '(c) Streams', rounds: [{ error: 'first' }, { error: 'second' }] };
    settleRounds(row);
    expect(row.throughput).toBeUndefined();
    expect(row.error).toBe('second');
  });

  it('one round: its own figures, no range and no median', () => {
    const row: WorkloadRow = { id: 'tributary', label: '(a) Tributary', rounds: [round(50_000, 70_000, 400)] };
    settleRounds(row);
    expect(rowSteadyRate(row)).toBe(70_000);
    expect(row.steadyMedian).toBeUndefined();
    const table = renderWorkload({
      records: 1000,
      streamsThreads: 2,
      commitIntervalMs: 1000,
      maxInFlight: 1000,
      rows: [row],
    });
    expect(table).toContain('| (a) Tributary | 50,000 | – | 70,000 |');
    expect(table).not.toContain('rounds');
  });

  it('the table shows the median with the range over the rounds, and says how it was measured', () => {
    const streams: WorkloadRow = {
      id: 'streams',
      label: '(c) Streams',
      rounds: [round(80_000, 90_000, 600), round(100_000, 110_000, 600), round(90_000, 100_000, 600)],
    };
    const tributary: WorkloadRow = {
      id: 'tributary',
      label: '(a) Tributary',
      rounds: [round(50_000, 70_000, 400), round(40_000, 90_000, 300), round(60_000, 60_000, 500)],
    };
    settleRounds(streams);
    settleRounds(tributary);
    const table = renderWorkload({
      records: 1000,
      streamsThreads: 2,
      commitIntervalMs: 1000,
      maxInFlight: 1000,
      rows: [tributary, streams],
    });
    expect(table).toContain('3 rounds, each contender once per round, in turn');
    expect(table).toContain('| (a) Tributary | 50,000 (40,000–60,000) | 0.56× | 70,000 (60,000–90,000) |');
    expect(table).toContain('| (c) Streams | 90,000 (80,000–100,000) | 1.00× | 100,000 (90,000–110,000) |');
  });
});
