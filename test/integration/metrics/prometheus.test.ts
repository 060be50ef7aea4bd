/**
 * A real Prometheus scraping a running engine: metrics/prometheus.yml (scrape interval 1 s, this engine as target,
 * metrics/alerts.yml loaded), a pipeline on the real broker, and PromQL over Prometheus' HTTP API: per-partition lag
 * equals the backlog while records wait and 0 after, the records processed by outcome equal what was produced, the
 * rate of processed records is 0 while held and integrates to the backlog after the release, and every alert rule
 * evaluates without error on the live series. Skipped where prometheus is absent (scripts/prometheus/provision.sh).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';
import { freePort } from '../../../scripts/freePort.js';
import { findPrometheus, PROMETHEUS_MISSING } from '../../../scripts/prometheus/binaries.js';
import { startTributary } from '../../../src/cli/startTributary.js';
import { definePipeline, parseJson, publish } from '../../../src/index.js';
import { eventually, testLogger } from '../../support/engine.js';
import { bootstrapServers, createTopic, produce, testAdmin, uniqueName } from '../../support/kafka.js';
import { Valve } from '../../support/operators.js';
import { testKafkaLibrary } from '../../support/testClient.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const binaries = findPrometheus();
if (!binaries) console.warn(`[prometheus] skipped: ${PROMETHEUS_MISSING}`);

const PARTITIONS = 3;

/** metrics/prometheus.yml with a 1 s scrape and evaluation interval, `target` as the one target, the rules by path. */
function testConfig(target: string): string {
  const shipped = readFileSync(`${root}metrics/prometheus.yml`, 'utf8');
  const replacements: [string, string][] = [
    ['  scrape_interval: 15s\n', '  scrape_interval: 1s\n'],
    ['  evaluation_interval: 15s\n', '  evaluation_interval: 1s\n'],
    ['    scrape_timeout: 10s\n', '    scrape_timeout: 1s\n'],
    ['  - alerts.yml\n', `  - ${root}metrics/alerts.yml\n`],
    ['["tributary:9464"]', `["${target}"]`],
  ];
  let config = shipped;
  for (const [from, to] of replacements) {
    expect(config, `metrics/prometheus.yml has ${JSON.stringify(from)}`).toContain(from);
    config = config.replace(from, to);
  }
  expect(config).toContain('job_name: tributary');
  return config;
}

/** PROMETHEUS_TEST_PORT, or a port the system says is free now. */
async function prometheusPort(): Promise<number> {
  if (process.env.PROMETHEUS_TEST_PORT) return Number(process.env.PROMETHEUS_TEST_PORT);
  return freePort();
}

interface Sample {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Starts prometheus with `config` on its own data folder; killed (and the folder removed) when the test ends. */
async function startPrometheus(prometheus: string, config: string): Promise<{ url: string; log(): string }> {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-prometheus-'));
  writeFileSync(join(dir, 'prometheus.yml'), config);
  const port = await prometheusPort();
  const child: ChildProcess = spawn(
    prometheus,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    log += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    log += chunk.toString();
  });
  const exited = new Promise<void>((done) => child.once('close', () => done()));
  onTestFinished(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killed = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killed);
    }
    rmSync(dir, { recursive: true, force: true });
  });
  const url = `http://127.0.0.1:${port}`;
  await eventually(
    async () => {
      if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}:\n${log}`);
      return (await fetch(`${url}/-/ready`).catch(() => undefined))?.status === 200;
    },
    `prometheus ready on ${url}`,
    30_000,
  );
  return { url, log: () => log };
}

describe.skipIf(!binaries)(`Prometheus${binaries ? '' : ` (skipped: ${PROMETHEUS_MISSING})`}`, () => {
  it('reads lag per partition, records by outcome and their rate from a running engine, as produced', async () => {
    const warmUp = 300; // 2 of them malformed: both outcome series exist before the backlog
    const backlog = 3000; // 20 of them malformed
    const input = await createTopic('prom-in', PARTITIONS);
    const output = await createTopic('prom-out', PARTITIONS);
    const dlq = await createTopic('prom-dlq', 1);
    const groupId = uniqueName('prom-group');
    const records = (n: number, poisonEvery: number, tag: string) =>
      Array.from({ length: n }, (_, i) => ({
        key: `${tag}${i % 40}`,
        value: i % poisonEvery === 7 ? `{"${tag}":${i},` : JSON.stringify({ [tag]: i }),
      }));

    const valve = new Valve();
    const app = await startTributary({
      pipelines: [
        definePipeline({
          name: 'prom-metrics',
          source: { topics: [input], groupId },
          deadLetter: { topic: dlq },
          maxInFlight: 300,
          commitIntervalMs: 200,
          build: (stream) => stream.pipe(valve.stage(), parseJson({ name: 'prom.parse' }), publish(output)),
        }),
      ],
      kafka: { brokers: bootstrapServers(), clientId: 'tributary-test-prom', library: testKafkaLibrary() },
      logger: testLogger,
      port: 0,
      host: '127.0.0.1',
    });
    onTestFinished(async () => {
      await app.stop().catch(() => {});
      await app.close();
    });
    const prometheus = await startPrometheus(binaries!.prometheus, testConfig(`127.0.0.1:${app.port}`));

    const query = async (expr: string): Promise<Sample[]> => {
      const response = await fetch(`${prometheus.url}/api/v1/query?query=${encodeURIComponent(expr)}`);
      const body = (await response.json()) as {
        status: string;
        error?: string;
        data: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
      };
      if (body.status !== 'success') throw new Error(`${expr}: ${body.error}`);
      expect(body.data.resultType).toBe('vector');
      return body.data.result.map((r) => ({ labels: r.metric, value: Number(r.value[1]) }));
    };
    /** One value per `label` value, e.g. partition → lag. */
    const byLabel = async (expr: string, label: string) =>
      new Map((await query(expr)).map((sample) => [sample.labels[label]!, sample.value]));
    const sel = `job="tributary", pipeline="prom-metrics", topic="${input}"`;
    // last_over_time(…[5s]): the latest value even when the latest scrape timed out (1 s on a busy machine)
    const latest = (metric: string, offset = '') => `last_over_time(${metric}{${sel}}[5s]${offset})`;
    const lagExpr = `max by (partition) (last_over_time(tributary_consumer_lag_records{${sel}, group="${groupId}"}[5s]))`;
    const outcomesExpr = `sum by (outcome) (${latest('tributary_records_processed_total')})`;
    const lagIs = (lag: Map<string, number>, expected: (partition: number) => number) =>
      lag.size === PARTITIONS && [0, 1, 2].every((p) => lag.get(String(p)) === expected(p));

    // 1. Warm-up: everything flows; Prometheus sees the target up, both outcomes and lag 0 on every partition.
    const first = records(warmUp, 150, 'w');
    const firstPoison = first.filter((r) => r.value.endsWith(',')).length;
    expect(firstPoison).toBe(2);
    await produce(input, first);
    await eventually(
      async () => {
        const outcomes = await byLabel(outcomesExpr, 'outcome');
        return (
          outcomes.get('published') === warmUp - firstPoison &&
          outcomes.get('dead_lettered') === firstPoison &&
          lagIs(await byLabel(lagExpr, 'partition'), () => 0)
        );
      },
      `Prometheus: ${warmUp} warm-up records finished, lag 0 on ${PARTITIONS} partitions`,
      90_000,
    );
    expect((await query('max_over_time(up{job="tributary"}[5s])')).map((s) => s.value)).toEqual([1]);
    expect((await query(`max_over_time(tributary_ready{job="tributary"}[5s])`)).map((s) => s.value)).toEqual([1]);

    // 2. Hold the pipeline and produce the backlog: nothing past the held records is committed, so each partition's
    //    lag is exactly what was produced to it, and nothing finishes.
    valve.close();
    const admin = await testAdmin();
    const before = new Map((await admin.fetchTopicOffsets(input)).map((o) => [o.partition, Number(o.high)]));
    const second = records(backlog, 150, 'b');
    const poison = second.filter((r) => r.value.endsWith(',')).length;
    expect(poison).toBe(20);
    await produce(input, second);
    const after = new Map((await admin.fetchTopicOffsets(input)).map((o) => [o.partition, Number(o.high)]));
    const waiting = (p: number) => after.get(p)! - before.get(p)!;
    expect(waiting(0) + waiting(1) + waiting(2)).toBe(backlog);
    await eventually(
      async () => lagIs(await byLabel(lagExpr, 'partition'), waiting),
      'Prometheus: lag = backlog on each partition while held',
      60_000,
    );
    const heldSeenAt = Date.now();
    const throughput = `sum(rate(tributary_records_processed_total{${sel}}[5s]))`;
    await eventually(
      async () => (await query(throughput))[0]?.value === 0,
      'Prometheus: no records processed per second while held',
      30_000,
    );
    // still held a few scrapes later (and the release comes after samples of the held state: see 3.)
    await new Promise((done) => setTimeout(done, 3_000));
    const lagHeld = await byLabel(lagExpr, 'partition');
    expect(lagIs(lagHeld, waiting)).toBe(true);
    expect(await byLabel(outcomesExpr, 'outcome')).toEqual(
      new Map([
        ['published', warmUp - firstPoison],
        ['dead_lettered', firstPoison],
      ]),
    );

    // 3. Release: the backlog drains; lag returns to 0 on every partition.
    valve.open();
    await eventually(
      async () => {
        const outcomes = await byLabel(outcomesExpr, 'outcome');
        return (
          outcomes.get('published') === warmUp - firstPoison + backlog - poison &&
          lagIs(await byLabel(lagExpr, 'partition'), () => 0)
        );
      },
      'Prometheus: backlog processed and lag back to 0',
      90_000,
    );
    // a window from the held state to now, long enough for rate()'s extrapolation to matter little
    await new Promise((done) => setTimeout(done, Math.max(0, 20_000 - (Date.now() - heldSeenAt))));
    // the window starts after the hold was seen (so its first sample is of the held state) and before the release
    const window = Math.floor((Date.now() - heldSeenAt) / 1000);
    // the records of each outcome since the hold: exactly what was produced
    const since = await byLabel(
      `${outcomesExpr} - sum by (outcome) (${latest('tributary_records_processed_total', ` offset ${window}s`)})`,
      'outcome',
    );
    expect(since.get('published')).toBe(backlog - poison);
    expect(since.get('dead_lettered')).toBe(poison);
    expect(since.get('filtered') ?? 0).toBe(0);
    // throughput: the rate over that window, times its length, is the backlog (rate() extrapolates to the window's
    // ends, which only adds: up to about two scrape intervals' worth)
    const rate = (await query(`sum(rate(tributary_records_processed_total{${sel}}[${window}s]))`))[0]?.value ?? 0;
    expect(rate * window).toBeGreaterThanOrEqual(backlog - 1e-6);
    expect(rate * window).toBeLessThan(backlog * 1.2);
    // consumed per partition over the same window: the backlog each partition held
    const consumed = await byLabel(
      `sum by (partition) (${latest('tributary_records_consumed_total')}) - ` +
        `sum by (partition) (${latest('tributary_records_consumed_total', ` offset ${window}s`)})`,
      'partition',
    );
    // the records admitted before the hold was seen (up to maxInFlight) are outside the window
    const consumedInWindow = [0, 1, 2].reduce((sum, p) => sum + (consumed.get(String(p)) ?? 0), 0);
    expect(consumedInWindow).toBeGreaterThanOrEqual(backlog - 300);
    expect(consumedInWindow).toBeLessThanOrEqual(backlog);
    // and once idle, nothing is processed per second
    await eventually(async () => (await query(throughput))[0]?.value === 0, 'throughput back to 0', 30_000);

    // 4. Every rule of metrics/alerts.yml evaluated on these live series without error.
    const alertNames = [...readFileSync(`${root}metrics/alerts.yml`, 'utf8').matchAll(/- alert: (\w+)$/gm)].map(
      (m) => m[1]!,
    );
    type Rule = { name: string; health: string; lastError?: string };
    let rules: Rule[] = [];
    await eventually(
      async () => {
        const body = (await (await fetch(`${prometheus.url}/api/v1/rules`)).json()) as {
          data: { groups: { rules: Rule[] }[] };
        };
        rules = body.data.groups.flatMap((group) => group.rules);
        return rules.length === alertNames.length && rules.every((rule) => rule.health !== 'unknown');
      },
      'Prometheus: every alert rule evaluated',
      30_000,
    );
    expect(rules.map((rule) => rule.name).sort()).toEqual([...alertNames].sort());
    for (const rule of rules) expect(rule, rule.lastError).toMatchObject({ health: 'ok' });
    const scrape = (await query(`max_over_time(scrape_duration_seconds{job="tributary"}[${window}s])`))[0]?.value;
    console.info(
      `[prometheus] lag held ${[...lagHeld.values()].join('/')}; ${backlog} records over ${window} s: ` +
        `rate ${rate.toFixed(1)}/s × ${window} s = ${(rate * window).toFixed(0)}; ${rules.length} rules ok; ` +
        `slowest scrape ${scrape?.toFixed(3)} s`,
    );
  }, 300_000);
});
