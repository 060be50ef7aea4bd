/**
 * The compiled `tributary` bin, run by plain Node as a user runs it, on a TypeScript service's `.ts` pipelines in a
 * folder of its own: `topics create`, `describe` and `run` against the real broker, and what Node's type stripping
 * cannot run, refused in one line that says what to do.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../support/engine.js';
import {
  bootstrapServers,
  collect,
  consume,
  expectCommittedToEnd,
  produce,
  testKafka,
  uniqueName,
} from '../../support/kafka.js';
import {
  type BuiltPackage,
  buildPackage,
  removeFolder,
  runBuiltCli,
  spawnBuiltCli,
  userProject,
} from '../../unit/cli/builtCli.js';
import { freePort } from '../../unit/cli/spawnCli.js';

const topics = {
  ORDERS_IN: uniqueName('cli-ts-orders'),
  ORDERS_OUT: uniqueName('cli-ts-priced'),
  ORDERS_DLQ: uniqueName('cli-ts-dlq'),
  ORDERS_GROUP: uniqueName('cli-ts-group'),
};
let pkg: BuiltPackage | undefined;
const folders: string[] = [];

beforeAll(async () => {
  pkg = await buildPackage();
}, 300_000);

afterAll(async () => {
  for (const folder of [pkg?.dir, ...folders]) removeFolder(folder);
  const admin = testKafka('tributary-test-cleanup').admin();
  await admin.connect();
  await admin.deleteTopics({ topics: [topics.ORDERS_IN, topics.ORDERS_OUT, topics.ORDERS_DLQ] }).catch(() => {});
  await admin.disconnect();
});

function built(): BuiltPackage {
  if (pkg === undefined) throw new Error('the package was not built');
  return pkg;
}

/** A service's pipelines as its developers write them: types, a local helper imported tsc-style as `.js`. */
function ordersService(name: string): Record<string, string> {
  return {
    'pipelines/topics.ts': [
      '/** Topic names from the environment: a helper module, no pipeline in it. */',
      'export interface Topics {',
      '  readonly input: string;',
      '  readonly output: string;',
      '  readonly deadLetters: string;',
      '}',
      "const env = (name: string): string => process.env[name] ?? 'missing-' + name;",
      "export const topics: Topics = { input: env('ORDERS_IN'), output: env('ORDERS_OUT'), deadLetters: env('ORDERS_DLQ') };",
      '',
    ].join('\n'),
    'pipelines/orderPricing.ts': [
      `import { definePipeline, mapValue, parseJson, type Pipeline, publish } from '${name}';`,
      "import { topics } from './topics.js';",
      '',
      'interface Order {',
      '  readonly orderId: string;',
      '  readonly items: readonly { readonly qty: number; readonly priceCents: number }[];',
      '}',
      'type Priced = Order & { readonly totalCents: number };',
      '',
      'const total = (order: Order): Priced => ({',
      '  ...order,',
      '  totalCents: order.items.reduce((sum, item) => sum + item.qty * item.priceCents, 0),',
      '});',
      '',
      'export const orderPricing: Pipeline<Priced> = definePipeline({',
      "  name: 'order-pricing',",
      "  source: { topics: [topics.input], groupId: process.env.ORDERS_GROUP ?? 'order-pricing' },",
      '  deadLetter: { topic: topics.deadLetters },',
      '  commitIntervalMs: 200,',
      '  build: (records) =>',
      "    records.pipe(parseJson<Order>({ name: 'orders.parse' }), mapValue(total, { name: 'orders.total' }), publish(topics.output)),",
      '});',
      '',
    ].join('\n'),
  };
}

describe('tributary (compiled, plain Node) on .ts pipelines', () => {
  it('creates their topics, describes them and runs them from pipelines/, as a TypeScript service has them', async () => {
    const app = userProject(built(), ordersService(built().name));
    folders.push(app);
    const env = { KAFKA_BROKERS: bootstrapServers().join(','), ...topics };

    const created = await runBuiltCli(built(), ['topics', 'create', '--partitions', '2'], app, env);
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    expect(
      created.stdout
        .trim()
        .split('\n')
        .map((line) => line.split(/\s{2,}/)),
    ).toEqual([
      ['STATE', 'TOPIC', 'PARTITIONS', 'USED BY'],
      ['created', topics.ORDERS_IN, '2', 'order-pricing (source)'],
      ['created', topics.ORDERS_OUT, '2', 'order-pricing (output)'],
      ['created', topics.ORDERS_DLQ, '2', 'order-pricing (dead letters)'],
      ['3 created, 0 already existed'],
    ]);

    const described = await runBuiltCli(built(), ['describe', 'pipelines/orderPricing.ts', '--json'], app, env);
    expect([described.code, described.stderr]).toEqual([0, '']);
    const [description] = JSON.parse(described.stdout) as { name: string; stages: { name: string }[] }[];
    expect(description?.name).toBe('order-pricing');
    expect(description?.stages.map((s) => s.name)).toEqual(['orders.parse', 'orders.total', 'publish']);

    const orders = Array.from({ length: 40 }, (_, i) => ({
      key: `c${i % 4}`,
      value:
        i % 10 === 7 ? '{"orderId": broken' : JSON.stringify({ orderId: `o${i}`, items: [{ qty: 2, priceCents: i }] }),
    }));
    await produce(topics.ORDERS_IN, orders);
    const priced = await collect(topics.ORDERS_OUT);
    const port = await freePort();
    const child = spawnBuiltCli(built(), ['run'], app, { ...env, HTTP_PORT: String(port), LOG_LEVEL: 'warn' });
    await eventually(async () => {
      if (child.process.exitCode !== null) throw new Error(`tributary exited early:\n${child.stderr()}`);
      const response = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
      return response?.status === 200;
    }, '/readyz 200 from tributary run');
    await priced.waitFor(36);
    const dead = await consume(topics.ORDERS_DLQ, 4);
    expect(dead.map((r) => r.headers['tributary-stage'])).toEqual(Array(4).fill('orders.parse'));
    const totals = priced.records.map((r) => JSON.parse(r.value ?? '{}') as { orderId: string; totalCents: number });
    expect(totals.find((o) => o.orderId === 'o5')?.totalCents).toBe(10);
    expect(new Set(totals.map((o) => o.orderId)).size).toBe(36);

    child.process.kill('SIGTERM');
    expect(await child.exited()).toBe(0);
    expect(child.stderr()).toBe('');
    await expectCommittedToEnd(topics.ORDERS_GROUP, [topics.ORDERS_IN]);
  }, 180_000);

  it('refuses what type stripping cannot run with one line that says what to do, not how to build this repository', async () => {
    const name = built().name;
    const pipeline = (extra: string, imports = 'definePipeline') =>
      `import { ${imports} } from '${name}';\n${extra}\nexport default definePipeline({ name: 'p', source: { topics: ['t'], groupId: 'g' }, deadLetter: { topic: 'd' }, build: (r) => r });\n`;
    const app = userProject(built(), {
      'enum.ts': pipeline('export enum Currency { EUR, USD }'),
      'parameterProperty.ts': pipeline('export class Pricing { constructor(private readonly url: string) {} }'),
      'typeImport.ts': pipeline('export const p: Pipeline | undefined = undefined;', 'definePipeline, Pipeline'),
      'extensionless.ts': pipeline("import { topics } from './lib/topics';"),
      'lib/topics.ts': "export const topics: string[] = ['t'];\n",
      'usesEnum.ts': pipeline("import { Currency } from './lib/currency.js';\nexport const eur = Currency.EUR;"),
      'lib/currency.ts': '/** ISO 4217 */\nexport enum Currency {\n  EUR = 978,\n}\n',
    });
    folders.push(app);
    const refusal = async (file: string) => {
      const { code, stdout, stderr } = await runBuiltCli(built(), ['describe', file], app);
      expect([code, stdout]).toEqual([2, '']);
      expect(stderr.trim().split('\n')).toHaveLength(1);
      expect(stderr).not.toMatch(/npm run build|src\/cli\/main\.ts/);
      return stderr.trim();
    };
    const strip =
      'Node runs .ts pipelines by stripping their types, and cannot run TypeScript that needs transforming: enums,';
    const enumRefused = await refusal('enum.ts');
    expect(enumRefused).toMatch(/^tributary: cannot load enum\.ts: TypeScript enum is not supported/);
    expect(enumRefused).toContain(strip);
    // in a module the pipeline imports: the line names that module
    expect(await refusal('usesEnum.ts')).toMatch(
      /^tributary: cannot load usesEnum\.ts: TypeScript enum is not supported in strip-only mode, at lib\/currency\.ts:2 \(Node runs/,
    );
    const propertyRefused = await refusal('parameterProperty.ts');
    expect(propertyRefused).toContain('TypeScript parameter property is not supported');
    expect(propertyRefused).toContain(strip);
    expect(await refusal('typeImport.ts')).toContain(
      "does not provide an export named 'Pipeline', at typeImport.ts:1 (if that is a type: Node strips types one file at a time, so a type must be imported with `import type`",
    );
    expect(await refusal('extensionless.ts')).toContain(
      "(relative imports of a .ts pipeline name the file with its extension: './schemas.ts' or './schemas.js')",
    );
  }, 120_000);
});
