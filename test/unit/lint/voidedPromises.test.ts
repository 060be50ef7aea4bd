/**
 * No promise that can reject is left unhandled in src/ or operators/ (F7: one `void` of a rejecting promise ended the
 * process). Biome's nursery/noFloatingPromises (biome.json, "error") catches a bare floating promise but accepts
 * `void p` as a deliberate ignore, so this test checks every `void` with the type checker. `void <expr>` of a
 * thenable is allowed only when
 * - the expression handles its own rejection: `p.catch(handler)` or `p.then(onFulfilled, onRejected)`; or
 * - it calls a function whose doc comment carries `@neverRejects` (a promise to readers and to this test that the
 *   function catches everything itself, e.g. writeDeadLetter).
 *
 * PENDING lists the sites known today, in files being fixed by their owners; they are reported as warnings. To make
 * the check strict, remove an entry once its site is fixed: the test then fails on any voided promise that can
 * reject, and an entry whose site no longer exists is reported so the list only shrinks.
 */
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));

/** `file: expression` of sites not yet fixed (file relative to the repository root, expression as written). */
const PENDING: readonly string[] = [];

interface Site {
  readonly file: string;
  readonly line: number;
  readonly expression: string;
}

const key = (site: Pick<Site, 'file' | 'expression'>) => `${site.file}: ${site.expression}`;

function sourceFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts'))
    .map((e) => join(e.parentPath, e.name));
}

function compilerOptions(): ts.CompilerOptions {
  const configFile = ts.readConfigFile(join(root, 'tsconfig.json'), (path) => ts.sys.readFile(path));
  return ts.parseJsonConfigFileContent(configFile.config, ts.sys, root).options;
}

function isThenable(checker: ts.TypeChecker, type: ts.Type): boolean {
  if (type.isUnion()) return type.types.some((t) => isThenable(checker, t));
  const then = checker.getPropertyOfType(type, 'then');
  if (then === undefined) return false;
  const thenType = checker.getNonNullableType(checker.getTypeOfSymbol(then));
  return thenType.getCallSignatures().length > 0;
}

function unwrap(node: ts.Expression): ts.Expression {
  let current = node;
  while (ts.isParenthesizedExpression(current)) current = current.expression;
  return current;
}

/** `p.catch(h)` or `p.then(a, b)`: the expression itself handles a rejection. */
function handlesRejection(node: ts.Expression): boolean {
  const call = unwrap(node);
  if (!ts.isCallExpression(call) || !ts.isPropertyAccessExpression(call.expression)) return false;
  const method = call.expression.name.text;
  return (method === 'catch' && call.arguments.length >= 1) || (method === 'then' && call.arguments.length >= 2);
}

/** A call of a function documented `@neverRejects`. */
function callsNeverRejecting(checker: ts.TypeChecker, node: ts.Expression): boolean {
  const call = unwrap(node);
  if (!ts.isCallExpression(call)) return false;
  const declaration = checker.getResolvedSignature(call)?.getDeclaration();
  if (declaration === undefined) return false;
  return ts.getJSDocTags(declaration).some((tag) => tag.tagName.text === 'neverRejects');
}

function voidedRejections(files: readonly string[]): Site[] {
  const program = ts.createProgram(files, compilerOptions());
  const checker = program.getTypeChecker();
  const sites: Site[] = [];
  for (const file of files) {
    const source = program.getSourceFile(file);
    if (source === undefined) continue;
    const visit = (node: ts.Node): void => {
      if (ts.isVoidExpression(node)) {
        const operand = node.expression;
        const type = checker.getTypeAtLocation(operand);
        if (isThenable(checker, type) && !handlesRejection(operand) && !callsNeverRejecting(checker, operand)) {
          sites.push({
            file: relative(root, file),
            line: source.getLineAndCharacterOfPosition(node.getStart()).line + 1,
            expression: operand.getText(source).replace(/\s+/g, ' '),
          });
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return sites;
}

describe('promises that can reject', () => {
  it('are never voided in src/ or operators/ (except the PENDING sites, which are reported)', () => {
    const sites = voidedRejections([...sourceFiles('src'), ...sourceFiles('operators')]);
    const pending = new Set(PENDING);
    const known = sites.filter((s) => pending.has(key(s)));
    for (const s of known) console.warn(`[voidedPromises] pending: ${s.file}:${s.line}: void ${s.expression}`);
    const stale = PENDING.filter((entry) => !sites.some((s) => key(s) === entry));
    for (const entry of stale) console.warn(`[voidedPromises] fixed, remove from PENDING: ${entry}`);
    const fresh = sites.filter((s) => !pending.has(key(s))).map((s) => `${s.file}:${s.line}: void ${s.expression}`);
    expect(fresh, 'a voided promise that can reject: catch it, or call a @neverRejects function').toEqual([]);
  }, 60_000);

  it('tells a voided rejection from a handled one (the check itself)', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'voided-')), 'sample.ts');
    writeFileSync(
      file,
      [
        '/** @neverRejects */',
        'async function safe(): Promise<void> {}',
        "async function risky(): Promise<void> { throw new Error('x'); }",
        'const p: Promise<void> | undefined = risky().catch(() => {});',
        'void safe();',
        'void risky().catch(() => {});',
        'void risky().then(() => {}, () => {});',
        'void 0;',
        'void risky();',
        'void risky().then(() => {});',
        'void p;',
        'export {};',
      ].join('\n'),
    );
    expect(voidedRejections([file]).map((s) => s.expression)).toEqual(['risky()', 'risky().then(() => {})', 'p']);
  });
});
