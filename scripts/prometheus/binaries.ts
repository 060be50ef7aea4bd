/**
 * Finds `prometheus` and `promtool` for the tests, where scripts/prometheus/provision.sh puts or finds them (its first
 * two places, in its order), without downloading anything: a test skips when they are absent.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface PrometheusBinaries {
  readonly prometheus: string;
  readonly promtool: string;
}

/** Why a test that needs them is skipped, and how to get them. */
export const PROMETHEUS_MISSING =
  'no prometheus + promtool (looked in .tributary/prometheus/bin, PROMETHEUS_BIN_DIR and PATH): ' +
  'run scripts/prometheus/provision.sh (Debian/Ubuntu; .ci/run does) or set PROMETHEUS_BIN_DIR';

function inDir(dir: string): PrometheusBinaries | undefined {
  const found = { prometheus: join(dir, 'prometheus'), promtool: join(dir, 'promtool') };
  const runs = (file: string) => {
    try {
      accessSync(file, constants.X_OK);
    } catch {
      return false;
    }
    return spawnSync(file, ['--version'], { stdio: 'ignore' }).status === 0;
  };
  return runs(found.promtool) && runs(found.prometheus) ? found : undefined;
}

/** The binaries, or undefined when none are installed. */
export function findPrometheus(): PrometheusBinaries | undefined {
  const own = inDir(join(projectRoot, '.tributary', 'prometheus', 'bin'));
  if (own) return own;
  const configured = process.env.PROMETHEUS_BIN_DIR;
  if (configured) return inDir(configured);
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const found = dir === '' ? undefined : inDir(dir);
    if (found) return found;
  }
  return undefined;
}
