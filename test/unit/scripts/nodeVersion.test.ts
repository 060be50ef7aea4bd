/**
 * One Node version for CI, developers and the container: scripts/node/provision.sh pins it, the Dockerfile builds and
 * runs on the same version, `.ci/run` puts it on PATH before installing, and it meets package.json's engines floor.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const read = (file: string) => readFileSync(`${root}${file}`, 'utf8');

const numbers = (version: string) => version.split('.').map(Number);

function atLeast(version: string, floor: string): boolean {
  const [a, b] = [numbers(version), numbers(floor)];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  }
  return true;
}

const pinned = /^VERSION=(\d+\.\d+\.\d+)\b/m.exec(read('scripts/node/provision.sh'))?.[1];

describe('the project Node version', () => {
  it('is pinned by scripts/node/provision.sh to a Node 24 release', () => {
    expect(pinned).toMatch(/^24\.\d+\.\d+$/);
  });

  it('is what every stage of the Dockerfile builds FROM', () => {
    const images = [...read('Dockerfile').matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]);
    expect(images.length).toBeGreaterThan(0);
    expect(images).toEqual(images.map(() => `node:${pinned}-slim`));
  });

  it('meets the engines floor of package.json', () => {
    const engines = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node;
    const floor = /^>=(\d+\.\d+(?:\.\d+)?)$/.exec(engines)?.[1];
    expect(floor).toBeDefined();
    expect(atLeast(pinned ?? '0', floor ?? '999')).toBe(true);
  });

  it('is on PATH in CI before anything is installed', () => {
    const lines = read('.ci/run').split('\n');
    const env = lines.findIndex((line) => line.trim() === '. scripts/node/env.sh');
    expect(env).toBeGreaterThan(-1);
    expect(env).toBeLessThan(lines.findIndex((line) => line.trim() === 'npm ci'));
  });
});
