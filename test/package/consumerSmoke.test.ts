/**
 * The package as a user gets it: packed from a copy of the repository (`npm pack`, which builds through `prepare`),
 * installed from the tarball into a fresh project with its peer dependencies from the registry, then imported from
 * ESM and from TypeScript, its command run through npx, and every ```ts snippet of README.md and docs/*.md
 * type-checked against it (the docs' vitest examples also run). No broker.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createUserProject,
  type PackedPackage,
  packRepository,
  repositoryRoot,
  run,
  temporaryFolder,
} from './consumerProject.js';
import { docSnippets } from './docSnippets.js';
import { forgottenExports } from './publicSurface.js';

const ENTRY_POINTS = ['tributary-kafka', 'tributary-kafka/testing', 'tributary-kafka/metrics'] as const;

/** The versions the repository itself is tested with (so the registry or npm's cache has them). */
function devVersion(name: string): string {
  const manifest = JSON.parse(readFileSync(join(repositoryRoot, 'package.json'), 'utf8')) as {
    devDependencies: Record<string, string>;
  };
  const version = manifest.devDependencies[name];
  if (version === undefined) throw new Error(`${name} is not a devDependency`);
  return `${name}@${version}`;
}

const USER_TS = `
import { z } from 'zod';
import {
  createEngine,
  definePipeline,
  type EngineStatus,
  parseJson,
  type PipelineConsumerTuning,
  type PipelineStatus,
  publish,
  type RunnerState,
  type TributaryErrorContext,
  validate,
} from 'tributary-kafka';
import { createEngineMetrics, createRegistry, type EngineMetrics, startHttpServer, startTributary } from 'tributary-kafka/metrics';
import { createMemoryKafka, createTestDriver, TestClock, type TestDriver } from 'tributary-kafka/testing';

const Order = z.object({ orderId: z.string(), total: z.number() });
const tuning: PipelineConsumerTuning = { maxWaitTimeMs: 500 };
export const orders = definePipeline({
  name: 'orders',
  source: { topics: ['orders'], groupId: 'orders' },
  deadLetter: { topic: 'orders.dlq' },
  consumer: tuning,
  build: (records) => records.pipe(parseJson(), validate(Order), publish('orders.valid', { key: (el) => el.value.orderId })),
});
export const states = (status: EngineStatus): RunnerState[] => status.pipelines.map((p: PipelineStatus) => p.state);
export const context: TributaryErrorContext = { retriable: false, topic: 'orders' };
export const metrics: EngineMetrics = createEngineMetrics(createRegistry(), { defaultMetrics: false });
export const engine = createEngine({ pipelines: [orders], kafka: { client: createMemoryKafka() }, observer: metrics.observer });
export const driver: TestDriver = createTestDriver(orders, { scheduler: new TestClock() });
export const starters = [startHttpServer, startTributary];
`;

/** ESM: every entry point loads and has what it should, and not what it should not. */
const IMPORTS_MJS = `
const main = await import('tributary-kafka');
const testing = await import('tributary-kafka/testing');
const metrics = await import('tributary-kafka/metrics');
const has = (module, names) => names.filter((name) => !(name in module));
console.log(JSON.stringify({
  missing: [
    ...has(main, ['createEngine', 'definePipeline', 'parseJson', 'validate', 'retryWithBackoff', 'publish', 'loadConfig', 'createLogger', 'TributaryError']),
    ...has(testing, ['createTestDriver', 'TestClock', 'createMemoryKafka', 'logSink']),
    ...has(metrics, ['createEngineMetrics', 'createRegistry', 'startHttpServer', 'startTributary', 'METRIC_NAMES']),
  ],
  leaked: ['createTestDriver', 'TestClock', 'laneFor', 'murmur2', 'STAGE_INFO', 'stageInfoOf', 'serializeValue', 'noopObserver'].filter((name) => name in main),
  counts: { main: Object.keys(main).length, testing: Object.keys(testing).length, metrics: Object.keys(metrics).length },
}));
`;

/**
 * Running it: an engine embedded with the default logger, a kafkajs producer (no partitioner warning), the test driver
 * with the user's zod, a zod 3 schema refused, snappy without kafkajs-snappy refused by name.
 */
const RUN_MJS = `
import { createEngine, createKafkajsClient, createLogger, definePipeline, parseJson, publish, validate } from 'tributary-kafka';
import { createMemoryKafka, createTestDriver } from 'tributary-kafka/testing';
import { z } from 'zod';
import * as z3 from 'zod/v3';

const report = {};
const pipeline = definePipeline({
  name: 'orders',
  source: { topics: ['orders'], groupId: 'orders' },
  deadLetter: { topic: 'orders.dlq' },
  build: (records) => records.pipe(parseJson(), validate(z.object({ id: z.number() })), publish('orders.valid')),
});

const engine = createEngine({ pipelines: [pipeline], kafka: { client: createMemoryKafka({ autoCreateTopics: true }) } });
await engine.start();
await engine.stop();

// kafkajs logs its warnings through the client's logger (none without one)
createKafkajsClient({ brokers: ['127.0.0.1:1'], logger: createLogger() }).producer();

const driver = createTestDriver(pipeline);
driver.inputTopic('orders').pipeValues([{ id: 1 }, { id: 'x' }]);
await driver.settle();
report.valid = driver.outputTopic('orders.valid').readValues();
report.deadLettered = driver.deadLetterTopic().readDeadLetters().map((d) => d.errorCode);
await driver.close();

try { validate(z3.object({ id: z3.number() })); } catch (error) { report.zod3 = [error.code, error.message]; }
try { createKafkajsClient({ brokers: ['127.0.0.1:1'] }).producer({ compression: 'snappy' }); } catch (error) { report.snappy = [error.code, error.message]; }
console.log(JSON.stringify({ report }));
`;

/**
 * Which installed packages a user's process loads: every module URL resolved, seen by a resolve hook. Importing the
 * entry points, defining a pipeline, running it on the test driver and creating (not starting) an engine loads no
 * @platformatic/kafka (about 0.8 s of start-up CPU); the engine's start loads it when it makes its client.
 */
const LOADS_MJS = `
import { registerHooks } from 'node:module';
const resolved = new Set();
registerHooks({
  resolve(specifier, context, nextResolve) {
    const result = nextResolve(specifier, context);
    const name = /.*\\/node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(result.url)?.[1];
    if (name) resolved.add(name);
    return result;
  },
});
const { z } = await import('zod');
const { createEngine, definePipeline, parseJson, publish, validate } = await import('tributary-kafka');
const { createTestDriver } = await import('tributary-kafka/testing');
await import('tributary-kafka/metrics');
const pipeline = definePipeline({
  name: 'orders',
  source: { topics: ['orders'], groupId: 'orders' },
  deadLetter: { topic: 'orders.dlq' },
  build: (records) => records.pipe(parseJson(), validate(z.object({ id: z.number() })), publish('orders.valid')),
});
const driver = createTestDriver(pipeline);
driver.inputTopic('orders').pipeValues([{ id: 1 }]);
await driver.settle();
await driver.close();
createEngine({ pipelines: [pipeline], kafka: { brokers: ['127.0.0.1:1'] } });
console.log(JSON.stringify({ packages: [...resolved].sort() }));
`;

describe('the packed package in a user project', () => {
  const temporary = temporaryFolder();
  const app = join(temporary.path, 'app');
  let packed: PackedPackage;

  beforeAll(async () => {
    packed = await packRepository(temporary.path);
    await createUserProject(app, packed.tarball, [
      'zod@^4',
      'rxjs@^7.8',
      devVersion('typescript'),
      devVersion('@types/node'),
      devVersion('vitest'),
    ]);
    mkdirSync(join(app, 'src'));
    writeFileSync(join(app, 'src', 'user.ts'), USER_TS);
    mkdirSync(join(app, 'snippets'));
    for (const snippet of docSnippets(repositoryRoot))
      writeFileSync(join(app, 'snippets', snippet.fileName), snippet.code);
  });

  afterAll(() => temporary.remove());

  it('holds the built library and nothing else', () => {
    console.info(
      `${packed.name}@${packed.version}: ${packed.files.length} files, ${packed.size} bytes packed, ${packed.unpackedSize} unpacked`,
    );
    expect(packed.name).toBe('tributary-kafka');
    expect(packed.files).toEqual(
      expect.arrayContaining([
        'package.json',
        'README.md',
        'dist/src/index.js',
        'dist/src/index.d.ts',
        'dist/src/testing/index.js',
        'dist/metrics/index.js',
        'dist/src/cli/main.js',
      ]),
    );
    const unwanted = packed.files.filter(
      (file) => !/^(package\.json|README\.md|LICENSE|dist\/(src|operators|metrics)\/.*\.(js|d\.ts))$/.test(file),
    );
    expect(unwanted).toEqual([]);
  });

  it('installs without the optional and development dependencies (one zod, the user’s)', () => {
    const modules = join(app, 'node_modules');
    expect(
      ['pg', 'ioredis', 'kafkajs-snappy', '@testcontainers/kafka'].filter((n) => existsSync(join(modules, n))),
    ).toEqual([]);
    expect(existsSync(join(modules, 'tributary-kafka', 'node_modules', 'zod'))).toBe(false);
    expect(existsSync(join(modules, 'tributary-kafka', 'node_modules', 'rxjs'))).toBe(false);
  });

  it('imports every entry point from ESM, and the main one holds no test-driver or stage internals', async () => {
    writeFileSync(join(app, 'imports.mjs'), IMPORTS_MJS);
    const { stdout } = await run(process.execPath, ['imports.mjs'], app);
    const result = JSON.parse(stdout) as { missing: string[]; leaked: string[]; counts: Record<string, number> };
    console.info(`exports: ${JSON.stringify(result.counts)}`);
    expect(result.missing).toEqual([]);
    expect(result.leaked).toEqual([]);
  });

  it('loads no @platformatic/kafka until an engine starts (imports, the test driver, an engine created)', async () => {
    writeFileSync(join(app, 'loads.mjs'), LOADS_MJS);
    const { stdout } = await run(process.execPath, ['loads.mjs'], app);
    const { packages } = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as { packages: string[] };
    // the hook sees package loads: the library's own dependencies are among them
    expect(packages).toEqual(expect.arrayContaining(['tributary-kafka', 'rxjs', 'zod']));
    expect(packages).not.toContain('@platformatic/kafka');
  });

  it('runs embedded: documented log lines, no kafkajs partitioner warning, zod 3 and missing snappy refused by name', async () => {
    writeFileSync(join(app, 'run.mjs'), RUN_MJS);
    const { stdout, stderr } = await run(process.execPath, ['run.mjs'], app);
    const lines = stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toContainEqual(
      expect.objectContaining({ level: 'info', service: 'tributary', msg: 'engine started' }),
    );
    expect(`${stdout}${stderr}`).not.toMatch(/partitioner/i);
    const { report } = lines.find((line) => 'report' in line) as { report: Record<string, unknown> };
    expect(report.valid).toEqual([{ id: 1 }]);
    expect(report.deadLettered).toEqual(['TRIBUTARY_ERR_VALIDATION']);
    expect(report.zod3).toEqual([
      'TRIBUTARY_ERR_PIPELINE_DEFINITION',
      "validate: zod 4 schema expected, got a zod 3 one (it has no _zod property); with zod 3.25 import { z } from 'zod/v4'",
    ]);
    expect(report.snappy).toEqual([
      'TRIBUTARY_ERR_CONFIG',
      'snappy compression (kafkajs client) needs the package kafkajs-snappy, which is not installed: npm install kafkajs-snappy',
    ]);
  });

  it('type-checks a user file importing every entry point, and README and docs snippets (tsc, declarations included)', async () => {
    const snippets = docSnippets(repositoryRoot);
    expect(snippets.length).toBeGreaterThan(5);
    const sources = new Map(snippets.map((s) => [s.fileName, s.source]));
    const result = await run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'], app).catch(
      (error: Error) =>
        error.message.replace(/snippets\/([\w.-]+\.ts)/g, (_, file: string) => sources.get(file) ?? file),
    );
    expect(result).toEqual({ stdout: '', stderr: '' });
  });

  it('exports every type its public signatures use', () => {
    const file = join(app, 'src', 'entryPoints.ts');
    writeFileSync(
      file,
      ENTRY_POINTS.map((entry, i) => `import type * as e${i} from '${entry}';\nexport type { e${i} };\n`).join(''),
    );
    const { entryPoints, forgotten } = forgottenExports(file, join(app, 'node_modules', 'tributary-kafka'), {
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      strict: true,
      types: ['node'],
      typeRoots: [join(app, 'node_modules', '@types')],
      noEmit: true,
    });
    expect(entryPoints).toEqual([...ENTRY_POINTS]);
    expect(forgotten).toEqual([]);
  });

  it("runs the docs' vitest examples", async () => {
    const tests = docSnippets(repositoryRoot).filter((s) => s.fileName.endsWith('.test.ts'));
    expect(tests.map((s) => s.source)).toContainEqual(expect.stringMatching(/^docs\/testing\.md:\d+$/));
    await run(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', '--dir', 'snippets'], app);
  });

  it('answers npx tributary --help and --version (the bin of the package)', async () => {
    // --no: never fetch a package called tributary from the registry (it is someone else's)
    const help = await run('npx', ['--no', '--', 'tributary', '--help'], app);
    expect(help.stdout).toMatch(/^Usage: tributary <command>/);
    expect(help.stdout).toMatch(/^ {2}run \[files or folders\.\.\.\]/m);
    const version = await run('npx', ['--no', '--', 'tributary', '--version'], app);
    expect(version.stdout.trim()).toBe(packed.version);
  });
});

describe('forgottenExports', () => {
  it('reports a type a public signature uses but no entry point exports', () => {
    const temporary = temporaryFolder();
    try {
      const pkg = join(temporary.path, 'node_modules', 'fake');
      mkdirSync(pkg, { recursive: true });
      writeFileSync(
        join(pkg, 'package.json'),
        JSON.stringify({ name: 'fake', type: 'module', exports: { '.': { types: './index.d.ts' } } }),
      );
      writeFileSync(
        join(pkg, 'hidden.d.ts'),
        'export interface Hidden { readonly deeper: Deeper }\nexport interface Deeper { x: number }\n',
      );
      writeFileSync(
        join(pkg, 'index.d.ts'),
        "import type { Hidden } from './hidden.js';\nexport interface Shown { y: number }\nexport declare function f(a: Hidden): Shown;\n",
      );
      const user = join(temporary.path, 'user.ts');
      writeFileSync(user, "import type * as fake from 'fake';\nexport type { fake };\n");
      const { forgotten } = forgottenExports(user, pkg, {
        module: ts.ModuleKind.NodeNext,
        moduleResolution: ts.ModuleResolutionKind.NodeNext,
        noEmit: true,
      });
      expect(forgotten).toEqual([
        { name: 'Hidden', usedBy: 'f', file: 'hidden.d.ts' },
        { name: 'Deeper', usedBy: 'Hidden', file: 'hidden.d.ts' },
      ]);
    } finally {
      temporary.remove();
    }
  });
});
