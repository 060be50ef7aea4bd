/**
 * The CLI as a user runs it: the package compiled by tsc (tsconfig.build.json) into a temporary folder and run by
 * plain Node (no tsx, no vitest), from a project of the user's that has it in node_modules under its package name.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

import { type Child, spawnChild } from '../../support/childProcess.js';
import { CLEAN as CONFIGURATION } from './spawnCli.js';

const root = join(import.meta.dirname, '..', '..', '..');
const run = promisify(execFile);

/** Variables of the test process that must not reach the child: configuration, and vitest's Node options. */
const CLEAN: Record<string, undefined> = { ...CONFIGURATION, NODE_OPTIONS: undefined, VITEST: undefined };

export interface BuiltPackage {
  /** The package folder: package.json and dist/ (its dependencies are this repository's node_modules). */
  readonly dir: string;
  /** Its name in package.json, under which a user's project imports it. */
  readonly name: string;
  /** The `tributary` bin. */
  readonly bin: string;
}

/** Compiles the package into a new temporary folder (tens of seconds). */
export async function buildPackage(): Promise<BuiltPackage> {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-pkg-'));
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const options = ['--outDir', join(dir, 'dist'), '--declaration', 'false', '--sourceMap', 'false'];
  await run(process.execPath, [tsc, '-p', 'tsconfig.build.json', ...options], { cwd: root });
  copyFileSync(join(root, 'package.json'), join(dir, 'package.json'));
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
    name: string;
    bin: { tributary: string };
  };
  return { dir, name: pkg.name, bin: join(dir, pkg.bin.tributary) };
}

/** A user's project in a new temporary folder: `files` (paths relative to it), and the package in node_modules. */
export function userProject(pkg: BuiltPackage, files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-app-'));
  const all: Record<string, string> = {
    'package.json': `${JSON.stringify({ name: 'orders-service', private: true, type: 'module' }, null, 2)}\n`,
    ...files,
  };
  for (const [path, text] of Object.entries(all)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  const installed = join(dir, 'node_modules', ...pkg.name.split('/'));
  mkdirSync(dirname(installed), { recursive: true });
  symlinkSync(pkg.dir, installed, 'dir');
  return dir;
}

export function removeFolder(dir: string | undefined): void {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
}

function childEnv(env: Record<string, string | undefined>): NodeJS.ProcessEnv {
  return { ...process.env, ...CLEAN, ...env } as NodeJS.ProcessEnv;
}

/** Runs `tributary <args>` in `cwd` to the end: its exit code and output. */
export async function runBuiltCli(
  pkg: BuiltPackage,
  args: readonly string[],
  cwd: string,
  env: Record<string, string | undefined> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [pkg.bin, ...args], { cwd, env: childEnv(env) });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: unknown; stdout?: string; stderr?: string };
    if (typeof failed.code !== 'number') throw error;
    return { code: failed.code, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

/** Starts `tributary <args>` in `cwd` (for `run`); the caller stops it (or the end of the test kills it). */
export function spawnBuiltCli(
  pkg: BuiltPackage,
  args: readonly string[],
  cwd: string,
  env: Record<string, string | undefined>,
): Child {
  return spawnChild(process.execPath, [pkg.bin, ...args], childEnv(env), cwd);
}
