/** The orchestrator side of a variant: spawn it as its own Node process, wait for READY / RESULT lines. */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { VariantArgs, VariantResult } from './variant.js';

const benchDir = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(benchDir, '..');

export interface VariantProcess {
  readonly process: ChildProcess;
  /** Resolves when the child printed BENCH_READY (serve mode). */
  ready(): Promise<void>;
  /** Closes the child's stdin: a serve-mode child stops, reports and exits. */
  stop(): void;
  /** The child's result line; rejects when it exits without one. */
  result(): Promise<VariantResult>;
}

export interface SpawnOptions {
  /** Write a V8 CPU profile of the child into this folder (node --cpu-prof). */
  cpuProfDir?: string;
  /** Node options of the child (e.g. the container's heap options, containerNodeOptions()). */
  nodeOptions?: readonly string[];
}

/** Where `compileVariants` puts the variants, compiled with the engine they import (bench/tsconfig.json). */
const buildDir = join(repoRoot, '.tributary', 'bench-build');

/**
 * Compiles the variants and the engine to JavaScript, so each child runs as plain `node`, as the Dockerfile runs the
 * engine: the tsx loader would add its own thread (~40 MB of RSS) and module hooks to every measured process.
 */
export function compileVariants(): void {
  const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', join(benchDir, 'tsconfig.json')], {
    cwd: repoRoot,
    encoding: 'utf8',
  });
  if (result.status !== 0) {
    throw new Error(`compiling the bench variants failed:\n${result.stdout}${result.stderr}`);
  }
}

/** Spawns `node [--cpu-prof …] .tributary/bench-build/bench/<script>.js '<json args>'` (see compileVariants). */
export function spawnVariant(script: string, args: VariantArgs, options: SpawnOptions = {}): VariantProcess {
  const profile = options.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', options.cpuProfDir] : [];
  const compiled = join(buildDir, 'bench', script.replace(/\.ts$/, '.js'));
  const nodeOptions = options.nodeOptions ?? [];
  const child = spawn(process.execPath, [...nodeOptions, ...profile, compiled, JSON.stringify(args)], {
    cwd: repoRoot,
    env: { ...process.env, KAFKAJS_NO_PARTITIONER_WARNING: '1' },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let buffered = '';
  let readyResolve: () => void = () => {};
  const ready = new Promise<void>((done) => {
    readyResolve = done;
  });
  let result: VariantResult | undefined;
  child.stdout?.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    let newline = buffered.indexOf('\n');
    while (newline >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      if (line === 'BENCH_READY') readyResolve();
      else if (line.startsWith('BENCH_RESULT '))
        result = JSON.parse(line.slice('BENCH_RESULT '.length)) as VariantResult;
      else if (line.trim() !== '') process.stderr.write(`[${script}] ${line}\n`);
      newline = buffered.indexOf('\n');
    }
  });
  const exited = new Promise<number | string>((done) => {
    // 'close', not 'exit': 'exit' may come before the result line on stdout was read
    child.once('close', (code, signal) => done(code ?? signal ?? 'unknown'));
  });
  return {
    process: child,
    ready: () =>
      Promise.race([
        ready,
        exited.then((code) => {
          throw new Error(`${script} exited (${code}) before it was ready`);
        }),
      ]),
    stop: () => {
      child.stdin?.end();
    },
    result: async () => {
      const code = await exited;
      if (result === undefined) throw new Error(`${script} exited (${code}) without a result`);
      return result;
    },
  };
}
