import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { syntaxErrorLocation, typeStrippingHint, typescriptSpecifier } from '../../../src/cli/typescriptImports.js';

const root = join(import.meta.dirname, '..', '..', '..');
const scratch = mkdtempSync(join(tmpdir(), 'tributary-tsimports-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function folder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(scratch, 'case-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

describe('typescriptSpecifier', () => {
  it('maps a relative .js (.mjs) import of a user .ts (.mts) module to the .ts (.mts) file, and nothing else', () => {
    const parent = 'file:///home/me/svc/pipelines/orders.ts';
    expect(typescriptSpecifier('./schemas.js', parent)).toBe('./schemas.ts');
    expect(typescriptSpecifier('../lib/pricing.mjs', 'file:///home/me/svc/pipelines/orders.mts')).toBe(
      '../lib/pricing.mts',
    );
    expect(typescriptSpecifier('./schemas.js', 'file:///home/me/svc/pipelines/orders.js')).toBeUndefined();
    expect(typescriptSpecifier('zod', parent)).toBeUndefined();
    expect(typescriptSpecifier('lib/x.js', parent)).toBeUndefined();
    expect(typescriptSpecifier('./schemas', parent)).toBeUndefined();
    expect(typescriptSpecifier('./data.json', parent)).toBeUndefined();
    expect(typescriptSpecifier('./x.js', 'file:///home/me/svc/node_modules/dep/index.ts')).toBeUndefined();
    expect(typescriptSpecifier('./x.js', undefined)).toBeUndefined();
  });
});

describe('typeStrippingHint', () => {
  const coded = (code: string, message: string) => Object.assign(new Error(message), { code });

  it('explains syntax Node cannot strip, type imports without `import type`, and imports without extension', () => {
    expect(typeStrippingHint(coded('ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX', 'TypeScript enum is not supported'))).toMatch(
      /^ \(Node runs \.ts pipelines by stripping their types, and cannot run TypeScript that needs transforming: enums, namespaces, parameter properties/,
    );
    expect(
      typeStrippingHint(new SyntaxError("The requested module './t.ts' does not provide an export named 'Order'")),
    ).toContain('a type must be imported with `import type`');
    expect(
      typeStrippingHint(
        coded(
          'ERR_MODULE_NOT_FOUND',
          "Cannot find module '/svc/pipelines/schemas' imported from /svc/pipelines/orders.ts",
        ),
      ),
    ).toContain("name the file with its extension: './schemas.ts' or './schemas.js'");
    expect(typeStrippingHint(coded('ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING', 'x'))).toContain('node_modules');
  });

  it('adds nothing to other errors', () => {
    expect(
      typeStrippingHint(
        coded('ERR_MODULE_NOT_FOUND', "Cannot find module '/svc/pipelines/x.js' imported from /svc/pipelines/o.ts"),
      ),
    ).toBe('');
    expect(typeStrippingHint(coded('ERR_MODULE_NOT_FOUND', "Cannot find module '/a/b' imported from /a/c.js"))).toBe(
      '',
    );
    expect(typeStrippingHint(new Error('database URL missing'))).toBe('');
    expect(typeStrippingHint(undefined)).toBe('');
  });
});

describe('syntaxErrorLocation', () => {
  it("reads the file and line Node puts on a syntax error's stack, as a path or a file URL", () => {
    const withStack = (stack: string) => Object.assign(new SyntaxError('x'), { stack });
    expect(
      syntaxErrorLocation(withStack('/svc/lib/currency.ts:3\nexport enum Currency { EUR }\n^^^^\n\nSyntaxError: x')),
    ).toEqual({ file: '/svc/lib/currency.ts', line: 3 });
    expect(
      syntaxErrorLocation(withStack('file:///svc/pipelines/orders.ts:1\nimport { T } from "x";\nSyntaxError: x')),
    ).toEqual({
      file: '/svc/pipelines/orders.ts',
      line: 1,
    });
    expect(syntaxErrorLocation(new Error('plain'))).toBeUndefined();
    expect(syntaxErrorLocation(undefined)).toBeUndefined();
  });
});

// Vitest resolves what the test process imports itself, so only a plain Node child shows Node's own resolution and
// type stripping: it runs typescriptImports.ts directly (Node strips its types; it has no relative imports).
describe('registerTypeScriptResolution', () => {
  it("lets a .ts module import a sibling .ts by its .js name under Node's type stripping; other failures stand", () => {
    const dir = folder({
      'util.ts': 'export const double = (n: number): number => n * 2;\n',
      'before.ts': "import { double } from './util.js';\nexport default double(1);\n",
      'after.ts': "import { double } from './util.js';\nexport default double(2);\n",
      'lib/m.mts': 'export const three: number = 3;\n',
      'after.mts': "import { three } from './lib/m.mjs';\nexport default three;\n",
      'missing.ts': "import { nothing } from './nothing.js';\nexport default nothing;\n",
      'plain.mjs': "import { double } from './util.js';\nexport default double(4);\n",
    });
    const module = pathToFileURL(join(root, 'src', 'cli', 'typescriptImports.ts')).href;
    const url = (name: string) => JSON.stringify(pathToFileURL(join(dir, name)).href);
    const script = `
      const show = (p) => p.then((m) => String(m.default), (e) => 'error ' + e.code);
      const { registerTypeScriptResolution } = await import(${JSON.stringify(module)});
      const lines = [await show(import(${url('before.ts')}))];
      lines.push(String(registerTypeScriptResolution()), String(registerTypeScriptResolution()));
      for (const name of [${url('after.ts')}, ${url('after.mts')}, ${url('missing.ts')}, ${url('plain.mjs')}]) {
        lines.push(await show(import(name)));
      }
      console.log(lines.join(' | '));
    `;
    const output = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: dir,
      env: { ...process.env, NODE_OPTIONS: '' },
      encoding: 'utf8',
    });
    expect(output.trim()).toBe(
      'error ERR_MODULE_NOT_FOUND | true | true | 4 | 3 | error ERR_MODULE_NOT_FOUND | error ERR_MODULE_NOT_FOUND',
    );
  });
});
