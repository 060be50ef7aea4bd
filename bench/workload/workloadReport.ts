/** The workload part's results and its markdown table (the bench's main table). */
import type { LatencyResult } from '../latency.js';
import type { VariantResult } from '../variant.js';
import { validAmong } from './definition.js';
import type { CeilingResult } from './javaContenders.js';

export interface WorkloadLatency extends LatencyResult {
  peakRssMb: number;
}

export interface WorkloadRow {
  id: string;
  label: string;
  throughput?: VariantResult;
  ceiling?: CeilingResult;
  /** Records on the contender's output and dead-letter topics after its throughput run. */
  outputCount?: number;
  dlqCount?: number;
  latency?: WorkloadLatency;
  error?: string;
  latencyError?: string;
}

export interface WorkloadReport {
  records: number;
  preloadSeconds?: number;
  streamsThreads: number;
  commitIntervalMs: number;
  maxInFlight: number;
  latencyConfig?: { rate: number; seconds: number; warmupSeconds: number };
  rows: WorkloadRow[];
}

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const fixed = (n: number | null | undefined, d = 1) =>
  n === null || n === undefined || !Number.isFinite(n) ? '–' : n.toFixed(d);

/** records/s of a row: the contender's own, or ConsumerPerformance's fetch rate (after its join). */
export function rowRate(row: WorkloadRow): number | undefined {
  return row.throughput?.recordsPerSecond ?? row.ceiling?.fetchRecordsPerSecond;
}

export function renderWorkload(w: WorkloadReport): string {
  const lines: string[] = [];
  const streams = w.rows.find((r) => r.id === 'streams');
  const streamsRate = streams ? rowRate(streams) : undefined;
  const valid = validAmong(w.records);
  lines.push(
    `**Workload**: ${int(w.records)} preloaded ~170-byte JSON records (${int(w.records - valid)} invalid), 6 partitions; ` +
      'JSON parse → zod validate → add a field → publish keyed by user, invalid ones to a DLQ; at-least-once, ' +
      `commits every ${w.commitIntervalMs / 1000} s` +
      `${w.preloadSeconds === undefined ? '' : ` (preload took ${fixed(w.preloadSeconds)} s)`}. Tributary at ` +
      `maxInFlight ${int(w.maxInFlight)}. records/s: from the contender's join to the poll that saw all records on its ` +
      'output and DLQ topics (ConsumerPerformance: its own fetch rate, after its join). ' +
      (w.latencyConfig
        ? `Latency: input paced at ${int(w.latencyConfig.rate)} records/s for ${w.latencyConfig.seconds} s (after ` +
          `${w.latencyConfig.warmupSeconds} s of warm-up), output time − the record's send time.`
        : ''),
    '',
    '| contender | records/s | vs Kafka Streams | 10–90 % records/s | seconds | peak RSS (MB) | CPU (s) | broker CPU (s) | other CPU (s) | output / DLQ records | p50 (ms) | p99 (ms) | peak RSS at 5 k/s (MB) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  );
  for (const row of w.rows) {
    if (row.error && !row.latency) {
      lines.push(`| ${row.label} | failed: ${row.error.split('\n')[0]} | | | | | | | | | | | |`);
      continue;
    }
    const t = row.throughput;
    const c = row.ceiling;
    const rate = rowRate(row);
    const vs = rate !== undefined && streamsRate ? `${(rate / streamsRate).toFixed(2)}×` : '–';
    const counts =
      row.outputCount === undefined
        ? c
          ? `${int(c.records)} consumed`
          : '–'
        : `${int(row.outputCount)} / ${int(row.dlqCount ?? 0)}${row.outputCount === valid && row.dlqCount === w.records - valid ? '' : ' ≠ expected'}`;
    const l = row.latency;
    lines.push(
      `| ${row.label} | ${rate === undefined ? '–' : int(rate)} | ${vs} | ` +
        `${t?.steadyRecordsPerSecond ? int(t.steadyRecordsPerSecond) : '–'} | ${fixed(t?.seconds ?? c?.fetchSeconds)} | ` +
        `${fixed(t?.peakRssMb ?? c?.peakRssMb, 0)} | ${fixed(t?.cpuSeconds ?? c?.cpuSeconds)} | ${fixed(t?.brokerCpuSeconds)} | ` +
        `${fixed(t?.otherCpuSeconds)} | ${counts} | ${l ? l.p50 : row.latencyError ? 'failed' : '–'} | ${l ? l.p99 : '–'} | ` +
        `${fixed(l?.peakRssMb, 0)} |`,
    );
  }
  return lines.join('\n');
}
