import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeCommand } from '../../../../src/cli/commands/describe.js';
import { recordedIo } from '../io.js';

const root = join(import.meta.dirname, '..', '..', '..', '..');
const staticFixtures = join('test', 'fixtures', 'pipelines', 'static');

async function describeStatic(...flags: string[]) {
  const io = recordedIo({}, { cwd: root });
  const code = await describeCommand([staticFixtures, ...flags], io);
  return { code, out: io.out, err: io.err };
}

describe('tributary describe', () => {
  it('prints each pipeline with its topics, group, limits dead-letter topic, stages and outputs', async () => {
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
      '  stages        parseJson (parseJson)',
      '                publish (publish) → orders.enriched',
      '  outputs       orders.enriched, orders.dlq (dead letters)',
    ]);
    expect(out).toContain(`pipeline audit-events   (${join(staticFixtures, 'audit.ts')}, export auditEvents)`);
    expect(out).toContain('  group         audit (a new group starts at the latest offset)');
    expect(out).toContain('  stages        (none: records pass through)');
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
    const enriched = out
      .find((line) => line.endsWith('[("orders.enriched")]'))
      ?.trim()
      .split('[')[0];
    expect(enriched).toBeDefined();
    expect(out).toContain(`  p3 --> ${enriched}`);
    expect(out.filter((line) => line.startsWith('  p2 --> '))).toEqual([]);
  });

  it('prints JSON with the stages and output topics', async () => {
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
      stages: [
        { name: 'parseJson', kind: 'parseJson', depth: 0, outputTopics: [], dynamicOutputs: false },
        { name: 'publish', kind: 'publish', depth: 0, outputTopics: ['orders.enriched'], dynamicOutputs: false },
      ],
      stagesComplete: true,
      outputTopics: ['orders.enriched', 'orders.dlq'],
      dynamicOutputs: false,
    });
  });

  it('exits 2 with the reason when the pipelines do not load', async () => {
    const io = recordedIo({}, { cwd: root });
    expect(await describeCommand(['test/fixtures/none'], io)).toBe(2);
    expect(io.err).toEqual(['tributary: test/fixtures/none: no such file or folder']);
  });
});
