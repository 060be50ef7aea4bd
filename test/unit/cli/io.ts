/** A CliIo that records what a command prints, for in-process command tests. */
import type { CliIo } from '../../../src/cli/io.js';

export interface RecordedIo extends CliIo {
  readonly out: string[];
  readonly err: string[];
}

export function recordedIo(env: NodeJS.ProcessEnv = {}, extra: Partial<CliIo> = {}): RecordedIo {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    stdout: (line) => out.push(line),
    stderr: (line) => err.push(line),
    env,
    ...extra,
  };
}
