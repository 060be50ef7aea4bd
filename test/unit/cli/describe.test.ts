import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeCommand } from '../../../src/cli/commands/describe.js';
import { recordedIo } from './io.js';

const root = join(import.meta.dirname, '..', '..', '..');
const staticFixtures = join('test', 'fixtures', 'pipelines', 'static');

async function describeStatic(...flags: string[]) {
  const io = recordedIo({}, { cwd: root });
  const code = await describeCommand([staticFixtures, ...flags], io);
  return { code, out: io.out, err: io.err };
}

describe('tributary describe', () => {
  it('prints each pipeline with its topics, group, limits and dead-letter topic, and says what it cannot see', async () => {
    const { code, out, err } = await describeStatic();
    expect(code).toBe(0);
    expect(err).toEqual([]);
    const orders = out.slice(out.indexOf(`pipeline orders   (${join(staticFixtures, 'orders.ts')})`));
    expect(orders).toEqual([
      `pipeline orders   (${join(staticFixtures, 'orders.ts')})`,
      '  source        orders.v1, orders.v2',
      '  group         orders-enricher (a new group starts at the earliest offset)',
      '  ordering      key',
      '  maxInFlight   500',
      '  commits       every 1000 ms; drain on stop up to 30000 ms',
      '  dead letters  orders.dlq',
      '  stages        not introspectable yet (the chain is the build function)',
      '  outputs       not introspectable yet',
    ]);
    expect(out).toContain(`pipeline audit-events   (${join(staticFixtures, 'audit.ts')}, export auditEvents)`);
    expect(out).toContain('  group         audit (a new group starts at the latest offset)');
  });

  it('draws a Mermaid flowchart with one node per topic, shared between pipelines', async () => {
    const { code, out } = await describeStatic('--mermaid');
    expect(code).toBe(0);
    expect(out[0]).toBe('flowchart LR');
    expect(out).toContain('  p3["orders<br/>group orders-enricher<br/>key · maxInFlight 500"]');
    // orders.v1 feeds both audit-orders (p2) and orders (p3) from a single node
    const ordersV1 = out
      .find((line) => line.endsWith('[("orders.v1")]'))
      ?.trim()
      .split('[')[0];
    expect(ordersV1).toBeDefined();
    expect(out).toContain(`  ${ordersV1} --> p2`);
    expect(out).toContain(`  ${ordersV1} --> p3`);
    expect(out.filter((line) => line.endsWith('[("orders.v1")]'))).toHaveLength(1);
    const auditDlq = out
      .find((line) => line.endsWith('[("audit.dlq")]'))
      ?.trim()
      .split('[')[0];
    expect(out).toContain(`  p1 -. dead letters .-> ${auditDlq}`);
    expect(out).toContain(`  p2 -. dead letters .-> ${auditDlq}`);
    expect(out.at(-1)).toBe('  %% output topics are not shown: the engine does not introspect operator chains yet');
  });

  it('prints JSON with null stages and outputs', async () => {
    const { code, out } = await describeStatic('--json');
    expect(code).toBe(0);
    const parsed = JSON.parse(out.join('\n')) as Record<string, unknown>[];
    expect(parsed.map((p) => p.name)).toEqual(['audit-events', 'audit-orders', 'orders']);
    expect(parsed[2]).toEqual({
      name: 'orders',
      file: join(staticFixtures, 'orders.ts'),
      export: 'default',
      sourceTopics: ['orders.v1', 'orders.v2'],
      groupId: 'orders-enricher',
      fromBeginning: true,
      ordering: 'key',
      maxInFlight: 500,
      commitIntervalMs: 1000,
      drainTimeoutMs: 30000,
      deadLetterTopic: 'orders.dlq',
      stages: null,
      outputTopics: null,
    });
  });

  it('exits 2 with the reason when the pipelines do not load', async () => {
    const io = recordedIo({}, { cwd: root });
    expect(await describeCommand(['test/fixtures/none'], io)).toBe(2);
    expect(io.err).toEqual(['tributary: test/fixtures/none: no such file or folder']);
  });
});
