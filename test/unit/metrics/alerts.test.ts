/**
 * promtool on the shipped Prometheus files: metrics/alerts.yml is a valid rule file, metrics/prometheus.yml a valid
 * configuration (its rule_files included), and metrics/alerts.test.yml's synthetic series make each alert fire, with
 * its labels and rendered annotations, and stay quiet otherwise. Skipped where promtool is absent
 * (scripts/prometheus/provision.sh installs it; .ci/run calls it).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { findPrometheus, PROMETHEUS_MISSING } from '../../../scripts/prometheus/binaries.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const binaries = findPrometheus();
if (!binaries) console.warn(`[promtool] skipped: ${PROMETHEUS_MISSING}`);

function promtool(...args: string[]): { status: number | null; output: string } {
  const result = spawnSync(binaries!.promtool, args, { cwd: root, encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

const alertNames = [...readFileSync(`${root}metrics/alerts.yml`, 'utf8').matchAll(/^ {6}- alert: (\w+)$/gm)].map(
  (match) => match[1]!,
);

describe.skipIf(!binaries)(`promtool${binaries ? '' : ` (skipped: ${PROMETHEUS_MISSING})`}`, () => {
  it('accepts metrics/alerts.yml (check rules)', () => {
    const { status, output } = promtool('check', 'rules', 'metrics/alerts.yml');
    expect(output).toContain(`SUCCESS: ${alertNames.length} rules found`);
    expect(status, output).toBe(0);
  });

  it('accepts metrics/prometheus.yml and the rule file it loads (check config)', () => {
    const { status, output } = promtool('check', 'config', 'metrics/prometheus.yml');
    expect(output).toContain('SUCCESS: 1 rule files found');
    expect(output).toContain('Checking metrics/alerts.yml');
    expect(status, output).toBe(0);
  });

  it('metrics/alerts.test.yml: each alert fires on its synthetic series and stays quiet otherwise (test rules)', () => {
    const tests = readFileSync(`${root}metrics/alerts.test.yml`, 'utf8');
    // every alert has a test that expects it firing and one evaluation that expects silence
    for (const name of alertNames) {
      expect(tests, name).toContain(`alertname: ${name}\n        exp_alerts: []`);
      expect(tests, name).toContain(`exp_labels:\n              alertname: ${name}\n`);
    }
    const { status, output } = promtool('test', 'rules', 'metrics/alerts.test.yml');
    expect(status, output).toBe(0);
    expect(output).toContain('SUCCESS');
  });

  it('test rules fails on a wrong expression (here TributaryNotReady on ready instances), naming the alert', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tributary-alerts-'));
    try {
      const rules = readFileSync(`${root}metrics/alerts.yml`, 'utf8');
      expect(rules).toContain('expr: tributary_ready == 0\n');
      writeFileSync(
        join(dir, 'alerts.yml'),
        rules.replace('expr: tributary_ready == 0\n', 'expr: tributary_ready == 1\n'),
      );
      copyFileSync(`${root}metrics/alerts.test.yml`, join(dir, 'alerts.test.yml'));
      const { status, output } = promtool('test', 'rules', join(dir, 'alerts.test.yml'));
      expect(status, output).toBe(1);
      expect(output).toContain('FAILED');
      expect(output).toContain('alertname: TributaryNotReady');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
