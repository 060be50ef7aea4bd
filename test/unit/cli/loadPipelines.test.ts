import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import {
  defaultPipelineFolders,
  isPipeline,
  loadPipelines,
  NODE_STRIPS_TYPES,
  RUNNING_FROM_SOURCE,
} from '../../../src/cli/loadPipelines.js';
import { definePipeline } from '../../../src/index.js';

const root = join(import.meta.dirname, '..', '..', '..');
const fixtures = join('test', 'fixtures', 'pipelines');
const scratch = mkdtempSync(join(tmpdir(), 'tributary-load-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A module that exports a pipeline-shaped value without importing tributary (it lives outside the repository). */
function pipelineModule(name: string, exportLine = 'export default'): string {
  return `${exportLine} { kind: 'tributary.pipeline', name: '${name}', source: { topics: ['t'], groupId: 'g', fromBeginning: true }, deadLetter: { topic: 'd' }, build: (r) => r };\n`;
}

function folder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(scratch, 'case-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

describe('loadPipelines', () => {
  it('runs from source here, so .ts modules load', () => {
    expect(RUNNING_FROM_SOURCE).toBe(true);
    expect(defaultPipelineFolders(true)).toEqual(['pipelines']);
    expect(defaultPipelineFolders(false)).toEqual([join('dist', 'pipelines'), 'pipelines']);
  });

  it('loads a folder: default exports, else every named pipeline export; skips modules without one', async () => {
    const loaded = await loadPipelines([join(fixtures, 'static')], { cwd: root });
    expect(loaded.pipelines.map((p) => [p.pipeline.name, p.file, p.exportName])).toEqual([
      ['audit-events', join(fixtures, 'static', 'audit.ts'), 'auditEvents'],
      ['audit-orders', join(fixtures, 'static', 'audit.ts'), 'auditOrders'],
      ['orders', join(fixtures, 'static', 'orders.ts'), 'default'],
    ]);
    expect(loaded.skipped).toEqual([join(fixtures, 'static', 'schemas.ts')]);
    expect(loaded.searched).toEqual([join(fixtures, 'static')]);
  });

  it('ignores non-module files, declaration files and tests in a folder', async () => {
    const dir = folder({
      'a.ts': pipelineModule('a'),
      'a.d.ts': 'export {};\n',
      'a.test.ts': "throw new Error('tests are not pipelines');\n",
      'notes.md': '# not code\n',
      'b.mjs': pipelineModule('b'),
    });
    const loaded = await loadPipelines([dir]);
    expect(loaded.pipelines.map((p) => p.pipeline.name)).toEqual(['a', 'b']);
  });

  it('loads .ts modules when running compiled on a Node that strips types, as this one does', async () => {
    expect(NODE_STRIPS_TYPES).toBe(true);
    const dir = folder({ 'a.ts': pipelineModule('a'), 'b.js': pipelineModule('b') });
    const loaded = await loadPipelines([dir], { fromSource: false });
    expect(loaded.pipelines.map((p) => p.pipeline.name)).toEqual(['a', 'b']);
    expect((await loadPipelines([join(dir, 'a.ts')], { fromSource: false })).pipelines).toHaveLength(1);
  });

  it('loads only .js modules on a Node that does not strip types, and refuses a named .ts file with what to do', async () => {
    const dir = folder({ 'a.ts': pipelineModule('a'), 'b.js': pipelineModule('b') });
    const loaded = await loadPipelines([dir], { fromSource: false, typescript: false });
    expect(loaded.pipelines.map((p) => p.pipeline.name)).toEqual(['b']);
    await expect(loadPipelines([join(dir, 'a.ts')], { fromSource: false, typescript: false })).rejects.toThrow(
      /a\.ts is TypeScript, and this Node does not strip types: run tributary on Node >= 22\.18 without --no-experimental-strip-types, or compile your pipelines with tsc and pass the \.js files$/,
    );
  });

  // Vitest transforms what the test process imports, so only a plain Node child shows Node's own type stripping: it
  // runs loadPipelines.ts itself (a resolve hook maps the sources' `.js` imports to `.ts`), no tsx and no vite.
  it('imports a .ts pipeline with Node alone, and says what to do with syntax Node cannot strip', () => {
    const dir = folder({
      'hook.mjs': [
        "import { registerHooks } from 'node:module';",
        'registerHooks({ resolve(specifier, context, next) {',
        '  try { return next(specifier, context); } catch (error) {',
        "    if (error?.code !== 'ERR_MODULE_NOT_FOUND' || !specifier.endsWith('.js')) throw error;",
        "    return next(specifier.slice(0, -3) + '.ts', context);",
        '  }',
        '} });',
      ].join('\n'),
      'typed.ts': [
        "import type { Observable } from 'rxjs';",
        'interface Order { readonly id: string }',
        "const name: string = 'typed';",
        "export default { kind: 'tributary.pipeline', name, source: { topics: ['t'], groupId: 'g' },",
        "  deadLetter: { topic: 'd' }, build: (records: Observable<Order>): Observable<Order> => records };",
      ].join('\n'),
      'enum/colors.ts': `enum Color { Red }\n${pipelineModule('colors').replace("'colors'", "'colors' + Color.Red")}`,
    });
    const script = `
      const { loadPipelines } = await import(${JSON.stringify(pathToFileURL(join(root, 'src', 'cli', 'loadPipelines.ts')).href)});
      const loaded = await loadPipelines([${JSON.stringify(join(dir, 'typed.ts'))}], { fromSource: false });
      console.log(JSON.stringify(loaded.pipelines.map((p) => p.pipeline.name)));
      await loadPipelines([${JSON.stringify(join(dir, 'enum'))}], { fromSource: false }).catch((e) => console.log(e.message));
    `;
    const env = { ...process.env, NODE_OPTIONS: '' };
    const hook = pathToFileURL(join(dir, 'hook.mjs')).href;
    const output = execFileSync(process.execPath, ['--import', hook, '--input-type=module', '-e', script], {
      cwd: root,
      env,
      encoding: 'utf8',
    }).split('\n');
    expect(output[0]).toBe('["typed"]');
    expect(output[1]).toMatch(/cannot load .*colors\.ts: TypeScript enum is not supported in strip-only mode/);
    expect(output[1]).toContain('(Node runs .ts pipelines by stripping their types, and cannot run TypeScript that');
    expect(output[1]).not.toMatch(/npm run build|src\/cli\/main/); // advice that fits a checkout only
  });

  it('uses the default folder when no path is given, and says which folders it looked for', async () => {
    const empty = folder({});
    await expect(loadPipelines([], { cwd: empty })).rejects.toThrow(
      `no pipelines: pipelines/ does not exist in ${empty}; pass the files or folders to load`,
    );
    await expect(loadPipelines([], { cwd: empty, fromSource: false })).rejects.toThrow(
      `no pipelines: dist/pipelines/ and pipelines/ do not exist in ${empty}`,
    );
    expect((await loadPipelines([], { cwd: empty, allowEmpty: true })).pipelines).toEqual([]);

    const project = folder({ 'pipelines/x.ts': pipelineModule('x'), 'dist/pipelines/x.js': pipelineModule('x-built') });
    expect((await loadPipelines([], { cwd: project })).pipelines.map((p) => p.pipeline.name)).toEqual(['x']);
    expect(
      (await loadPipelines([], { cwd: project, fromSource: false })).pipelines.map((p) => p.pipeline.name),
    ).toEqual(['x-built']);
  });

  it('fails on a missing path, a named file without pipelines, and an empty folder', async () => {
    await expect(loadPipelines(['nowhere/'], { cwd: root })).rejects.toThrow('nowhere/: no such file or folder');
    await expect(loadPipelines([join(fixtures, 'static', 'schemas.ts')], { cwd: root })).rejects.toThrow(
      `${join(fixtures, 'static', 'schemas.ts')} exports no pipeline`,
    );
    const helpers = folder({ 'util.ts': 'export const x = 1;\n' });
    await expect(loadPipelines([helpers])).rejects.toThrow(/^no pipelines found in .* \(looked at \.ts, \.mts/);
  });

  it('reports a module that does not load, with the file name and the error', async () => {
    const dir = folder({ 'broken.ts': "throw new Error('database URL missing');\n" });
    await expect(loadPipelines([dir])).rejects.toThrow(/cannot load .*broken\.ts: database URL missing/);
  });

  it('reports an invalid definePipeline with its field problems', async () => {
    const dir = folder({
      'bad.ts': `import { definePipeline } from '${join(root, 'src', 'index.ts')}';\nexport default definePipeline({ name: 'bad name', source: { topics: [], groupId: 'g' }, deadLetter: { topic: 'd' }, build: (r) => r });\n`,
    });
    const error = (await loadPipelines([dir]).then(
      () => undefined,
      (e: unknown) => e,
    )) as Error;
    expect(error.message).toMatch(/cannot load .*bad\.ts: pipeline "bad name" is invalid:/);
    expect(error.message).toContain('source.topics: at least one topic');
  });

  it('refuses two pipelines with the same name and names both places', async () => {
    const dir = folder({ 'one.ts': pipelineModule('same'), 'two.ts': pipelineModule('same') });
    await expect(loadPipelines([dir], { cwd: dir })).rejects.toThrow(
      'two pipelines are named "same" (one.ts default, two.ts default); names must be unique',
    );
  });

  it('loads a pipeline exported twice (default and named) once', async () => {
    const dir = folder({
      'twice.ts': `${pipelineModule('twice', 'export const p =')}export default p;\n`,
    });
    const loaded = await loadPipelines([dir]);
    expect(loaded.pipelines.map((p) => [p.pipeline.name, p.exportName])).toEqual([['twice', 'default']]);
  });
});

describe('isPipeline', () => {
  it('recognises definePipeline values by kind and shape', () => {
    const pipeline = definePipeline({
      name: 'p',
      source: { topics: ['t'], groupId: 'g' },
      deadLetter: { topic: 'd' },
      build: (r) => r,
    });
    expect(isPipeline(pipeline)).toBe(true);
    expect(isPipeline({ ...pipeline, kind: 'other' })).toBe(false);
    expect(isPipeline({ ...pipeline, build: undefined })).toBe(false);
    expect(isPipeline({ ...pipeline, source: { topics: 't', groupId: 'g' } })).toBe(false);
    expect(isPipeline(null)).toBe(false);
    expect(isPipeline('tributary.pipeline')).toBe(false);
  });
});
