#!/usr/bin/env node
/**
 * The `tributary` executable (package.json "bin" → dist/src/cli/main.js). Binds the CLI to the process: argv, the
 * environment, stdout/stderr, SIGTERM/SIGINT for `run`, and the exit code. Runs from source too:
 * `npx tsx src/cli/main.ts run`.
 */
import { errorMessage } from '../errors.js';
import { runCli } from './cli.js';
import type { CliIo } from './io.js';

const FORCED_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

let shutdown: AbortController | undefined;

/** Installed only when a command asks: the first SIGTERM/SIGINT asks it to stop, a second one exits at once. */
function shutdownSignal(): AbortSignal {
  if (shutdown === undefined) {
    const controller = new AbortController();
    shutdown = controller;
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.on(signal, () => {
        if (!controller.signal.aborted) {
          controller.abort(signal);
          return;
        }
        process.stderr.write(`tributary: ${signal} again, exiting without finishing the graceful stop\n`);
        process.exit(FORCED_EXIT[signal] ?? 1);
      });
    }
  }
  return shutdown.signal;
}

const io: CliIo = {
  stdout: (line) => process.stdout.write(`${line}\n`),
  stderr: (line) => process.stderr.write(`${line}\n`),
  env: process.env,
  cwd: process.cwd(),
  shutdownSignal,
};

function exit(code: number): void {
  // Let stdout/stderr drain (pipes are asynchronous), then exit even if a client left a timer behind.
  process.exitCode = code;
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}

runCli(process.argv.slice(2), io).then(exit, (error: unknown) => {
  process.stderr.write(`tributary: ${errorMessage(error)}\n`);
  if (error instanceof Error && error.stack && process.env.LOG_LEVEL?.toLowerCase() === 'debug') {
    process.stderr.write(`${error.stack}\n`);
  }
  exit(1);
});
