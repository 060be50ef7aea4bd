/** The CLI as a child process (from source, through tsx), for integration tests that need exit codes and signals. */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';

const root = join(import.meta.dirname, '..', '..', '..');
const main = join(root, 'src', 'cli', 'main.ts');

/** Variables of the test process that must not leak into the child's configuration. */
const CLEAN: Record<string, undefined> = {
  KAFKA_BROKERS: undefined,
  KAFKA_SASL_MECHANISM: undefined,
  KAFKA_USERNAME: undefined,
  KAFKA_PASSWORD: undefined,
  KAFKA_SSL: undefined,
  KAFKA_SSL_CA_FILE: undefined,
  HTTP_PORT: undefined,
  LOG_LEVEL: undefined,
};

export interface CliChild {
  readonly process: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited(timeoutMs?: number): Promise<number | string>;
}

/** Runs the CLI from source in a child process; killed when the test finishes if still running. */
export function spawnCli(args: readonly string[], env: Record<string, string | undefined>): CliChild {
  const child = spawn(process.execPath, ['--import', 'tsx', main, ...args], {
    cwd: root,
    env: { ...process.env, ...CLEAN, ...env } as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  const exit = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
  });
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return {
    process: child,
    stdout: () => out,
    stderr: () => err,
    exited: (timeoutMs = 60_000) =>
      Promise.race([
        exit,
        new Promise<never>((_, reject) =>
          setTimeout(
            () => reject(new Error(`tributary did not exit within ${timeoutMs} ms:\n${err}\n${out}`)),
            timeoutMs,
          ).unref(),
        ),
      ]),
  };
}

/** A port nobody listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as { port: number };
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}
