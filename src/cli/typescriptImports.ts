/**
 * Loading a user's `.ts` pipelines in the compiled CLI, where Node strips their types itself (Node >= 22.18, no
 * loader needed):
 * - a resolve hook so their relative imports may name the `.js` file tsc would emit (`import './schemas.js'` for
 *   `schemas.ts`, the usual style under `"module": "NodeNext"`), which Node alone does not resolve;
 * - one-line advice when Node refuses a module for a reason type stripping explains (an enum, a type imported
 *   without `import type`, an import without its extension).
 *
 * No relative imports here: the unit test runs this file with Node's own type stripping, without a loader.
 */
import * as nodeModule from 'node:module';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A module that Node runs by stripping its types. */
const TYPESCRIPT_MODULE = /\.m?ts$/;
/** The `.js` name tsc gives a `.ts` module's output, and back. */
const EMITTED: Readonly<Record<string, string>> = { '.js': '.ts', '.mjs': '.mts' };

let registered = false;

function isRelative(specifier: string): boolean {
  return specifier.startsWith('./') || specifier.startsWith('../');
}

/** A TypeScript module of the user's (Node does not strip types under node_modules anyway). */
function fromUserTypeScript(parentURL: string | undefined): boolean {
  if (parentURL === undefined || !parentURL.startsWith('file:') || parentURL.includes('/node_modules/')) return false;
  return TYPESCRIPT_MODULE.test(new URL(parentURL).pathname);
}

/** The `.ts` module a tsc-style `.js` specifier stands for, or undefined when it does not look like one. */
export function typescriptSpecifier(specifier: string, parentURL: string | undefined): string | undefined {
  if (!isRelative(specifier) || !fromUserTypeScript(parentURL)) return undefined;
  const extension = extname(specifier);
  const source = EMITTED[extension];
  return source === undefined ? undefined : `${specifier.slice(0, -extension.length)}${source}`;
}

/**
 * Registers (once per process) a resolve hook: when a relative `./x.js` (`./x.mjs`) imported from a `.ts` (`.mts`)
 * module does not exist, `./x.ts` (`./x.mts`) is tried; when that does not exist either, the original error stands.
 * It acts only on imports that would otherwise fail. Returns false when this Node has no `module.registerHooks`
 * (added in 22.15).
 */
export function registerTypeScriptResolution(): boolean {
  if (registered) return true;
  const registerHooks = (nodeModule as Partial<typeof nodeModule>).registerHooks;
  if (typeof registerHooks !== 'function') return false;
  registerHooks({
    resolve(specifier, context, nextResolve) {
      try {
        return nextResolve(specifier, context);
      } catch (error) {
        const source =
          (error as { code?: unknown }).code === 'ERR_MODULE_NOT_FOUND' &&
          typescriptSpecifier(specifier, context.parentURL);
        if (!source) throw error;
        try {
          return nextResolve(source, context);
        } catch {
          throw error;
        }
      }
    },
  });
  registered = true;
  return true;
}

/**
 * What to do when importing a pipeline module failed for a reason of Node's type stripping; '' for other errors.
 * Starts with a space, to be appended to the error message.
 */
export function typeStrippingHint(error: unknown): string {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  const text = typeof message === 'string' ? message : '';
  if (code === 'ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX') {
    return (
      ' (Node runs .ts pipelines by stripping their types, and cannot run TypeScript that needs transforming: ' +
      'enums, namespaces, parameter properties, `import x = require()`. Rewrite that code (tsc --erasableSyntaxOnly ' +
      'points at each place), compile your pipelines with tsc and pass the .js files, or run tributary through tsx: ' +
      "NODE_OPTIONS='--import tsx' npx tributary ...)"
    );
  }
  if (code === 'ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING') {
    return ' (Node does not strip types of files under node_modules: import that package compiled to .js)';
  }
  if (error instanceof SyntaxError && /does not provide an export named/.test(text)) {
    return (
      ' (if that is a type: Node strips types one file at a time, so a type must be imported with `import type`; ' +
      'tsc --verbatimModuleSyntax points at each place)'
    );
  }
  if (code === 'ERR_MODULE_NOT_FOUND') {
    const [, missing, parent] = /Cannot find module '([^']+)' imported from (\S+)/.exec(text) ?? [];
    if (missing !== undefined && parent !== undefined && TYPESCRIPT_MODULE.test(parent) && extname(missing) === '') {
      return " (relative imports of a .ts pipeline name the file with its extension: './schemas.ts' or './schemas.js')";
    }
  }
  return '';
}

/**
 * Where Node's type stripping or linking failed, from the first line of the error's stack (Node puts
 * `<file>:<line>` there for syntax errors): the module at fault may be one the pipeline imports.
 */
export function syntaxErrorLocation(error: unknown): { file: string; line: number } | undefined {
  const stack = (error as { stack?: unknown } | null)?.stack;
  if (typeof stack !== 'string') return undefined;
  const [, where, line] = /^(file:\/\/\S+|\/\S+):(\d+)\n/.exec(stack) ?? [];
  if (where === undefined || line === undefined) return undefined;
  try {
    return { file: where.startsWith('file:') ? fileURLToPath(where) : where, line: Number(line) };
  } catch {
    return undefined;
  }
}
