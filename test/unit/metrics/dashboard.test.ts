import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ENGINE_METRICS, METRIC_NAMES, metricOfSeries } from '../../../metrics/metricNames.js';

const root = new URL('../../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');

/** Every `tributary_*` token in a PromQL expression or text. */
function metricTokens(text: string): string[] {
  return [...text.matchAll(/\btributary_[a-z0-9_]+/g)].map((match) => match[0]);
}

/** Labels named in `by (...)`, `without (...)`, `on (...)` and `ignoring (...)` clauses. */
function groupingLabels(expr: string): string[] {
  return [...expr.matchAll(/\b(?:by|without|on|ignoring)\s*\(([^)]*)\)/g)].flatMap((match) =>
    match[1]!
      .split(',')
      .map((label) => label.trim())
      .filter((label) => label !== ''),
  );
}

/** Label names in `{label="..."}` / `{label=~"..."}` selectors. */
function selectorLabels(expr: string): string[] {
  return [...expr.matchAll(/([a-z_]+)\s*(?:=~|!=|!~|=)\s*"/g)].map((match) => match[1]!);
}

function balanced(expr: string): boolean {
  let depth = 0;
  for (const char of expr.replace(/"[^"]*"/g, '""')) {
    if (char === '(' || char === '{' || char === '[') depth += 1;
    if (char === ')' || char === '}' || char === ']') depth -= 1;
    if (depth < 0) return false;
  }
  return depth === 0;
}

/** Labels any series may carry: ours, the histogram bucket bound, and what Prometheus adds at scrape time. */
const KNOWN_LABELS = new Set<string>([
  ...Object.values(ENGINE_METRICS).flatMap((metric) => metric.labelNames),
  'le',
  'instance',
  'job',
]);

function checkExpression(expr: string): void {
  expect(balanced(expr), expr).toBe(true);
  for (const token of metricTokens(expr)) {
    expect(metricOfSeries(token), `${token} in ${expr}`).toBeDefined();
  }
  for (const label of [...groupingLabels(expr), ...selectorLabels(expr)]) {
    expect(KNOWN_LABELS.has(label), `label ${label} in ${expr}`).toBe(true);
  }
}

interface Panel {
  type: string;
  title: string;
  targets?: { expr: string }[];
}

describe('metrics/grafana-dashboard.json', () => {
  const dashboard = JSON.parse(read('metrics/grafana-dashboard.json')) as {
    uid: string;
    panels: Panel[];
    templating: { list: { name: string; definition?: string }[] };
  };
  const exprs = dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr));

  it('is a dashboard with a stable uid, panels and a pipeline variable', () => {
    expect(dashboard.uid).toBe('tributary');
    expect(exprs.length).toBeGreaterThan(20);
    expect(dashboard.templating.list.map((variable) => variable.name)).toEqual(['datasource', 'pipeline']);
  });

  it('references only metrics Tributary exports, with labels they carry', () => {
    const definitions = dashboard.templating.list.flatMap((variable) => variable.definition ?? []);
    for (const expr of [...exprs, ...definitions]) checkExpression(expr);
  });

  it('shows throughput, lag, dead letters, latency quantiles, backpressure, rebalances and event-loop lag', () => {
    const all = exprs.join('\n');
    for (const needed of [
      'tributary_records_consumed_total',
      'tributary_records_processed_total',
      'tributary_consumer_lag_records',
      'outcome="dead_lettered"',
      'histogram_quantile(0.5, sum by (pipeline, le) (rate(tributary_record_processing_duration_seconds_bucket',
      'histogram_quantile(0.99, sum by (pipeline, le) (rate(tributary_record_processing_duration_seconds_bucket',
      'tributary_records_in_flight',
      'tributary_partitions_paused',
      'tributary_rebalances_total',
      'tributary_nodejs_eventloop_lag_p99_seconds',
      'tributary_ready',
    ]) {
      expect(all, needed).toContain(needed);
    }
  });

  it('gives every panel a unique id and a position on the grid', () => {
    const panels = dashboard.panels as unknown as { id: number; gridPos: { w: number; h: number; x: number } }[];
    expect(new Set(panels.map((panel) => panel.id)).size).toBe(panels.length);
    for (const { gridPos } of panels) expect(gridPos.x + gridPos.w).toBeLessThanOrEqual(24);
  });
});

describe('metrics/alerts.yml', () => {
  const text = read('metrics/alerts.yml');
  const rules = [
    ...text.matchAll(/^ {6}- alert: (\w+)\n {8}expr: (.+)\n {8}for: (\d+[smh])\n {8}labels:\n {10}severity: (\w+)$/gm),
  ].map((match) => ({ alert: match[1]!, expr: match[2]!, for: match[3]!, severity: match[4]! }));

  it('has the restricted shape: every rule has one-line expr, for and severity', () => {
    expect(text).toMatch(/^groups:\n {2}- name: tributary\n {4}rules:\n/m);
    expect(rules.length).toBe([...text.matchAll(/- alert: /g)].length);
    expect(rules.length).toBe([...text.matchAll(/^\s+expr: /gm)].length);
    for (const rule of rules) expect(['critical', 'warning', 'info']).toContain(rule.severity);
  });

  it('alerts on lag growing, dead-letter rate and not ready', () => {
    const byName = new Map(rules.map((rule) => [rule.alert, rule]));
    expect(byName.get('TributaryConsumerLagGrowing')?.expr).toContain('deriv(tributary_consumer_lag_records[10m])');
    expect(byName.get('TributaryDeadLetterRateHigh')?.expr).toContain(
      'rate(tributary_records_processed_total{outcome="dead_lettered"}[5m])',
    );
    expect(byName.get('TributaryNotReady')).toEqual({
      alert: 'TributaryNotReady',
      expr: 'tributary_ready == 0',
      for: '5m',
      severity: 'critical',
    });
  });

  it('references only metrics Tributary exports, with labels they carry', () => {
    for (const rule of rules) checkExpression(rule.expr);
    // Metric names in summaries and descriptions must exist too.
    for (const token of metricTokens(text)) expect(metricOfSeries(token), token).toBeDefined();
  });
});

describe('metricOfSeries', () => {
  it('maps histogram series to their metric and rejects unknown names', () => {
    expect(metricOfSeries('tributary_commit_duration_seconds_bucket')).toBe('tributary_commit_duration_seconds');
    expect(metricOfSeries('tributary_nodejs_gc_duration_seconds_sum')).toBe('tributary_nodejs_gc_duration_seconds');
    expect(metricOfSeries('tributary_ready')).toBe('tributary_ready');
    expect(metricOfSeries('tributary_nodejs_eventloop_utilization_summary_count')).toBe(
      'tributary_nodejs_eventloop_utilization_summary',
    );
    // A summary has no _bucket series.
    expect(metricOfSeries('tributary_nodejs_eventloop_utilization_summary_bucket')).toBeUndefined();
    // A counter has no _count series, and unknown names are unknown.
    expect(metricOfSeries('tributary_commits_total_count')).toBeUndefined();
    expect(metricOfSeries('tributary_records_consumed')).toBeUndefined();
  });

  it('METRIC_NAMES lists each name once, all prefixed and valid Prometheus names', () => {
    expect(new Set(METRIC_NAMES).size).toBe(METRIC_NAMES.length);
    for (const name of METRIC_NAMES) expect(name).toMatch(/^tributary_[a-z][a-z0-9_]*$/);
  });
});

describe('docs/operations.md', () => {
  it('documents every engine metric with its type and labels', () => {
    const docs = read('docs/operations.md');
    for (const metric of Object.values(ENGINE_METRICS)) {
      const row = docs.split('\n').find((line) => line.startsWith(`| \`${metric.name}\` |`));
      expect(row, metric.name).toBeDefined();
      expect(row).toContain(`| ${metric.type} |`);
      for (const label of metric.labelNames) expect(row, `${metric.name} ${label}`).toContain(`\`${label}\``);
    }
  });
});
