/**
 * The workload benchmark runs Tributary as the image does: with the Node options the Dockerfile gives it, read from
 * the Dockerfile (its NODE_OPTIONS and the options its ENTRYPOINT passes to node). They must be options this Node
 * accepts where the image puts them, the heap cap must really cap the heap, and docs/operations.md must show them.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  containerNodeOptions,
  TRIBUTARY,
  TRIBUTARY_DEFAULT_HEAP,
  TRIBUTARY_KAFKAJS,
  TRIBUTARY_WORKERS,
} from '../../../bench/workload/contenders.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');

/** V8's heap limit in MB of a node started with these command-line options and this NODE_OPTIONS. */
function heapLimitMb(args: readonly string[], nodeOptions = ''): number {
  const run = spawnSync(
    process.execPath,
    [...args, '-e', "console.log(require('v8').getHeapStatistics().heap_size_limit)"],
    { env: { ...process.env, NODE_OPTIONS: nodeOptions }, encoding: 'utf8' },
  );
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
  return Number(run.stdout.trim()) / 2 ** 20;
}

function parsed(text: string): string[] {
  const file = join(mkdtempSync(join(tmpdir(), 'tributary-dockerfile-')), 'Dockerfile');
  writeFileSync(file, text);
  return containerNodeOptions(file);
}

describe('the Node options of the benchmark', () => {
  it("(a), (a'') and (a''') run with the image's options; (a') with none", () => {
    for (const contender of [TRIBUTARY, TRIBUTARY_KAFKAJS, TRIBUTARY_WORKERS]) {
      expect(contender.nodeOptions).toEqual(containerNodeOptions());
    }
    expect(TRIBUTARY_DEFAULT_HEAP.nodeOptions).toEqual([]);
  });

  it("reads the Dockerfile's NODE_OPTIONS, then the options its ENTRYPOINT gives node before the script", () => {
    const env = 'FROM node:24-slim\nENV HTTP_PORT=9464 \\\n    NODE_OPTIONS="--max-old-space-size=300  --trace-gc"\n';
    expect(parsed(env)).toEqual(['--max-old-space-size=300', '--trace-gc']);
    expect(
      parsed(`${env}ENTRYPOINT ["node", "--heap-growing-percent=150", "dist/src/cli/main.js"]\nCMD ["run"]\n`),
    ).toEqual(['--max-old-space-size=300', '--trace-gc', '--heap-growing-percent=150']);
    expect(parsed('FROM node:24-slim\nENTRYPOINT ["node", "dist/src/cli/main.js"]\n')).toEqual([]);
    expect(parsed('FROM node:24-slim\nENV HTTP_PORT=9464\n')).toEqual([]);
  });

  it('the image options are accepted where the image puts them, and cap the heap near 512 MB', () => {
    const options = containerNodeOptions();
    const env = /NODE_OPTIONS="([^"]*)"/.exec(dockerfile)?.[1] ?? '';
    const onCommandLine = options.slice(env.split(/\s+/).filter(Boolean).length);
    // as the container starts: NODE_OPTIONS from ENV, the rest on node's command line
    const limitMb = heapLimitMb(onCommandLine, env);
    // as the bench starts it: all on the command line
    expect(heapLimitMb(options)).toBe(limitMb);
    // old space plus the young generation (3 semi-spaces' worth at most)
    expect(limitMb).toBeGreaterThanOrEqual(512);
    expect(limitMb).toBeLessThan(512 + 3 * 16 + 16);
    expect(heapLimitMb([])).toBeGreaterThan(limitMb);
  });

  it('docs/operations.md shows the options the image sets', () => {
    const docs = readFileSync(join(root, 'docs', 'operations.md'), 'utf8');
    const env = /NODE_OPTIONS="([^"]*)"/.exec(dockerfile)?.[1];
    expect(env).toBeDefined();
    expect(docs).toContain(`NODE_OPTIONS="${env}"`);
    for (const option of containerNodeOptions()) expect(docs).toContain(option);
  });
});
