/**
 * A user's project around the packed package, in a temporary folder: the repository's files copied as a fresh clone
 * has them (git's tracked and untracked, not ignored, files), packed with `npm pack` (which builds through `prepare`),
 * and the tarball installed into a new project with its peer dependencies from the registry.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

export const repositoryRoot = join(import.meta.dirname, '..', '..');

export interface RunResult {
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * The environment of a command run in the user's project: the test runner's and npm's own variables removed (a
 * nested `npm install` would otherwise take `npm_config_local_prefix` and install into this repository), and
 * `KAFKAJS_NO_PARTITIONER_WARNING` too (the project's tests set it; a user has not).
 */
export function userEnvironment(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (/^(npm_|VITEST|KAFKAJS_)/i.test(name) || ['NODE_OPTIONS', 'NODE_ENV', 'TEST'].includes(name)) continue;
    env[name] = value;
  }
  return env;
}

/** Runs a command; rejects with its output when it exits with another code than 0. */
export async function run(command: string, args: readonly string[], cwd: string): Promise<RunResult> {
  try {
    const { stdout, stderr } = await exec(command, [...args], {
      cwd,
      env: userEnvironment(),
      maxBuffer: 64 * 1024 * 1024,
    });
    return { stdout, stderr };
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(' ')} failed in ${cwd}:\n${stdout}\n${stderr}`, { cause: error });
  }
}

export interface PackedPackage {
  readonly tarball: string;
  readonly name: string;
  readonly version: string;
  /** Paths inside the package. */
  readonly files: readonly string[];
  /** Bytes of the tarball. */
  readonly size: number;
  readonly unpackedSize: number;
}

/** Copies the repository's own files (no node_modules, dist, .git or local state) into `destination`. */
async function copyCheckout(destination: string): Promise<void> {
  const { stdout } = await run('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], repositoryRoot);
  const files = stdout.split('\0').filter((file) => file !== '');
  if (files.length === 0) throw new Error('git ls-files listed no files: the smoke test needs a git checkout');
  for (const file of files) {
    const target = join(destination, file);
    mkdirSync(dirname(target), { recursive: true });
    try {
      cpSync(join(repositoryRoot, file), target);
    } catch (error) {
      // a tracked file deleted in the working tree is not part of this checkout
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  // the build's dependencies: the repository's own, as `npm ci` installed them
  symlinkSync(join(repositoryRoot, 'node_modules'), join(destination, 'node_modules'), 'dir');
}

/** Packs a copy of the repository into `folder`, as `npm pack` on a fresh clone does (prepare builds it). */
export async function packRepository(folder: string): Promise<PackedPackage> {
  const checkout = join(folder, 'checkout');
  mkdirSync(checkout);
  await copyCheckout(checkout);
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', folder], checkout);
  // npm prints the prepare script's output before the JSON report
  const report = JSON.parse(stdout.slice(stdout.startsWith('[') ? 0 : stdout.indexOf('\n[') + 1)) as {
    filename: string;
    name: string;
    version: string;
    size: number;
    unpackedSize: number;
    files: { path: string }[];
  }[];
  const [packed] = report;
  if (packed === undefined) throw new Error(`npm pack reported nothing:\n${stdout}`);
  return {
    tarball: join(folder, packed.filename),
    name: packed.name,
    version: packed.version,
    files: packed.files.map((f) => f.path),
    size: packed.size,
    unpackedSize: packed.unpackedSize,
  };
}

/** Creates a new ESM TypeScript project in `folder` and installs the tarball and `dependencies` into it. */
export async function createUserProject(
  folder: string,
  tarball: string,
  dependencies: readonly string[],
): Promise<void> {
  mkdirSync(folder);
  writeFileSync(
    join(folder, 'package.json'),
    `${JSON.stringify({ name: 'smoke-user', version: '1.0.0', private: true, type: 'module' }, null, 2)}\n`,
  );
  writeFileSync(
    join(folder, 'tsconfig.json'),
    `${JSON.stringify(
      {
        compilerOptions: {
          target: 'ES2022',
          lib: ['ES2023'],
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          // the package's declaration files are checked too, as in a project that does not skip them
          skipLibCheck: false,
          types: ['node'],
          noEmit: true,
        },
        include: ['src', 'snippets'],
      },
      null,
      2,
    )}\n`,
  );
  await run(
    'npm',
    ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', tarball, ...dependencies],
    folder,
  );
}

export function temporaryFolder(): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), 'tributary-package-'));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}
