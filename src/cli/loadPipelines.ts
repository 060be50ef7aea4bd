/**
 * Finds the pipelines the CLI runs: every module in the given files or folders, and in each module its default export
 * when that is a Pipeline, else every named export that is one. A Pipeline is recognised by its `kind`
 * (`'tributary.pipeline'`), not by `instanceof`, so pipelines built against another copy of the package load too.
 *
 * Which files load depends on how the CLI itself runs:
 * - compiled (the `tributary` bin of the installed package, `node dist/src/cli/main.js`, the container): `.js`,
 *   `.mjs`, and `.ts` and `.mts` as users write them, because Node strips their types itself (Node >= 22.18 unless
 *   `--no-experimental-strip-types`). Erasable TypeScript only (typescriptImports.ts explains what is not); relative
 *   imports may name the `.ts` file or the `.js` file tsc would emit. The default folder is `dist/pipelines/` when it
 *   exists (a build's output), else `pipelines/`;
 * - from the TypeScript sources of a checkout (`tsx src/cli/main.ts`, `node --import tsx ...`): the same modules,
 *   through tsx; the default folder is `pipelines/`.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { extname, isAbsolute, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { errorMessage } from '../errors.js';
import type { Pipeline } from '../runtime/definePipeline.js';
import { registerTypeScriptResolution, syntaxErrorLocation, typeStrippingHint } from './typescriptImports.js';

/** True when this module was loaded from its `.ts` source, i.e. a TypeScript loader (tsx) is active. */
export const RUNNING_FROM_SOURCE: boolean = import.meta.url.endsWith('.ts');

/** True when this Node imports `.ts` modules itself, by stripping their types (Node >= 22.18 by default). */
export const NODE_STRIPS_TYPES: boolean = Boolean(process.features.typescript);

const TYPESCRIPT_EXTENSIONS = ['.ts', '.mts', '.js', '.mjs'] as const;
const JAVASCRIPT_EXTENSIONS = ['.js', '.mjs'] as const;
const TYPESCRIPT = new Set(['.ts', '.mts', '.cts']);

export class PipelineLoadError extends Error {
  override name = 'PipelineLoadError';
}

export interface LoadedPipeline {
  readonly pipeline: Pipeline<unknown>;
  /** The module it came from, relative to the working directory. */
  readonly file: string;
  /** `default` or the export's name. */
  readonly exportName: string;
}

export interface LoadPipelinesOptions {
  /** Relative paths resolve against it. Default `process.cwd()`. */
  cwd?: string;
  /** Whether the CLI runs from its TypeScript sources, which picks the default folders. Default: `RUNNING_FROM_SOURCE`. */
  fromSource?: boolean;
  /** Whether `.ts` and `.mts` modules may be imported. Default: `fromSource || NODE_STRIPS_TYPES`. */
  typescript?: boolean;
  /** Return an empty list instead of failing when nothing was found (only with the default folder). */
  allowEmpty?: boolean;
}

export interface LoadedPipelines {
  readonly pipelines: readonly LoadedPipeline[];
  /** Where they were looked for, relative to the working directory. */
  readonly searched: readonly string[];
  /** Modules of a searched folder that export no pipeline (helpers, schemas). */
  readonly skipped: readonly string[];
}

/** A Pipeline value, as `definePipeline` returns it. */
export function isPipeline(value: unknown): value is Pipeline<unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Partial<Record<keyof Pipeline, unknown>>;
  const source = candidate.source as { topics?: unknown; groupId?: unknown } | undefined;
  const deadLetter = candidate.deadLetter as { topic?: unknown } | undefined;
  return (
    candidate.kind === 'tributary.pipeline' &&
    typeof candidate.name === 'string' &&
    typeof candidate.build === 'function' &&
    Array.isArray(source?.topics) &&
    typeof source?.groupId === 'string' &&
    typeof deadLetter?.topic === 'string'
  );
}

/** The folders `run` (and the other commands) read when no path is given, in order of preference. */
export function defaultPipelineFolders(fromSource = RUNNING_FROM_SOURCE): string[] {
  return fromSource ? ['pipelines'] : [join('dist', 'pipelines'), 'pipelines'];
}

function extensions(typescript: boolean): readonly string[] {
  return typescript ? TYPESCRIPT_EXTENSIONS : JAVASCRIPT_EXTENSIONS;
}

function loadable(file: string, typescript: boolean): boolean {
  const name = file.toLowerCase();
  if (name.endsWith('.d.ts') || name.endsWith('.d.mts') || /\.(test|spec)\.[cm]?[jt]s$/.test(name)) return false;
  return extensions(typescript).includes(extname(name));
}

function modulesIn(folder: string, typescript: boolean): string[] {
  return readdirSync(folder, { withFileTypes: true })
    .filter((entry) => entry.isFile() && loadable(entry.name, typescript))
    .map((entry) => join(folder, entry.name))
    .sort();
}

/** Pipelines a module exports: its default export when that is one, else every named export that is one. */
function pipelinesOf(module: Record<string, unknown>): { exportName: string; pipeline: Pipeline }[] {
  if (isPipeline(module.default)) return [{ exportName: 'default', pipeline: module.default }];
  return Object.entries(module)
    .filter(([name, value]) => name !== 'default' && isPipeline(value))
    .map(([exportName, pipeline]) => ({ exportName, pipeline: pipeline as Pipeline }));
}

/**
 * Imports the pipelines found in `paths` (files or folders; folders are read one level deep, sorted by name).
 * Without paths, the first default folder that exists is used.
 *
 * @throws PipelineLoadError when a path does not exist, a module fails to import (a syntax error, an invalid
 * `definePipeline`), a named file exports no pipeline, two pipelines share a name, or nothing was found.
 */
export async function loadPipelines(
  paths: readonly string[],
  options: LoadPipelinesOptions = {},
): Promise<LoadedPipelines> {
  const cwd = options.cwd ?? process.cwd();
  const fromSource = options.fromSource ?? RUNNING_FROM_SOURCE;
  const typescript = options.typescript ?? (fromSource || NODE_STRIPS_TYPES);
  const shown = (path: string) => relative(cwd, path) || '.';
  const files: { path: string; named: boolean }[] = [];
  const searched: string[] = [];

  if (paths.length === 0) {
    const folders = defaultPipelineFolders(fromSource);
    const folder = folders.map((f) => resolve(cwd, f)).find((f) => existsSync(f) && statSync(f).isDirectory());
    if (folder === undefined) {
      if (options.allowEmpty) return { pipelines: [], searched: folders, skipped: [] };
      throw new PipelineLoadError(
        `no pipelines: ${folders.map((f) => `${f}/`).join(' and ')} ${folders.length > 1 ? 'do' : 'does'} not exist ` +
          `in ${cwd}; pass the files or folders to load`,
      );
    }
    searched.push(shown(folder));
    for (const path of modulesIn(folder, typescript)) files.push({ path, named: false });
  } else {
    for (const given of paths) {
      const path = isAbsolute(given) ? given : resolve(cwd, given);
      if (!existsSync(path)) throw new PipelineLoadError(`${given}: no such file or folder`);
      searched.push(shown(path));
      if (statSync(path).isDirectory()) {
        for (const file of modulesIn(path, typescript)) files.push({ path: file, named: false });
        continue;
      }
      if (TYPESCRIPT.has(extname(path).toLowerCase()) && !typescript) {
        throw new PipelineLoadError(
          `${given} is TypeScript, and this Node does not strip types: run tributary on Node >= 22.18 without ` +
            '--no-experimental-strip-types, or compile your pipelines with tsc and pass the .js files',
        );
      }
      files.push({ path, named: true });
    }
  }

  // tsx resolves `./x.js` to `./x.ts` itself; Node's own type stripping needs the hook
  if (typescript && !fromSource) registerTypeScriptResolution();
  const pipelines: LoadedPipeline[] = [];
  const skipped: string[] = [];
  const seen = new Set<unknown>();
  for (const { path, named } of files) {
    let module: Record<string, unknown>;
    try {
      module = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
    } catch (error) {
      const hint = fromSource ? '' : typeStrippingHint(error);
      const at = hint === '' ? undefined : syntaxErrorLocation(error);
      const where = at === undefined ? '' : `, at ${shown(at.file)}:${at.line}`;
      throw new PipelineLoadError(`cannot load ${shown(path)}: ${errorMessage(error)}${where}${hint}`, {
        cause: error,
      });
    }
    const found = pipelinesOf(module).filter(({ pipeline }) => !seen.has(pipeline));
    if (found.length === 0) {
      if (named) {
        throw new PipelineLoadError(
          `${shown(path)} exports no pipeline (expected a default or named export made with definePipeline)`,
        );
      }
      skipped.push(shown(path));
      continue;
    }
    for (const { exportName, pipeline } of found) {
      seen.add(pipeline);
      pipelines.push({ pipeline, file: shown(path), exportName });
    }
  }

  const byName = new Map<string, LoadedPipeline>();
  for (const loaded of pipelines) {
    const other = byName.get(loaded.pipeline.name);
    if (other !== undefined) {
      throw new PipelineLoadError(
        `two pipelines are named "${loaded.pipeline.name}" (${other.file} ${other.exportName}, ` +
          `${loaded.file} ${loaded.exportName}); names must be unique`,
      );
    }
    byName.set(loaded.pipeline.name, loaded);
  }
  if (pipelines.length === 0 && !(options.allowEmpty && paths.length === 0)) {
    const kinds = extensions(typescript).join(', ');
    throw new PipelineLoadError(
      `no pipelines found in ${searched.join(', ')} (looked at ${kinds} modules for exports made with definePipeline)`,
    );
  }
  return { pipelines, searched, skipped };
}
