/** Spawns a TypeScript entry point as a real child process (via tsx) and watches its output. */
import { type ChildProcess, spawn } from 'node:child_process';
import { onTestFinished } from 'vitest';

export interface Child {
  readonly process: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves when stdout contains `text`. */
  waitForOutput(text: string, timeoutMs?: number): Promise<void>;
  /** Resolves with the exit code (or the signal name) once the child exited and its output was all read. */
  exited(timeoutMs?: number): Promise<number | string>;
}

/** `env` is laid over the test process's environment; a variable set to undefined is removed. */
export function spawnTs(
  entry: string,
  env: Record<string, string | undefined>,
  args: readonly string[] = [],
  cwd?: string,
): Child {
  return spawnChild(process.execPath, ['--import', 'tsx', entry, ...args], { ...process.env, ...env }, cwd);
}

/** Runs `command` with exactly `env`, watching its output; killed when the test finishes if still running. */
export function spawnChild(
  command: string,
  args: readonly string[],
  env: Record<string, string | undefined>,
  cwd?: string,
): Child {
  const child = spawn(command, [...args], {
    env: env as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(cwd === undefined ? {} : { cwd }),
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  // 'close', not 'exit': 'exit' may come before the last stdout/stderr chunks were read
  const exit = new Promise<number | string>((resolve) => {
    child.once('close', (code, signal) => resolve(code ?? signal ?? 'unknown'));
  });
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return {
    process: child,
    stdout: () => out,
    stderr: () => err,
    async waitForOutput(text, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (!out.includes(text)) {
        if (child.exitCode !== null)
          throw new Error(`child exited (${child.exitCode}) before printing "${text}":\n${err}`);
        if (Date.now() > deadline) throw new Error(`child did not print "${text}" within ${timeoutMs} ms:\n${err}`);
        await new Promise((done) => setTimeout(done, 50));
      }
    },
    async exited(timeoutMs = 60_000) {
      const timeout = new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(`child did not exit within ${timeoutMs} ms:\n${err}`)), timeoutMs).unref(),
      );
      return Promise.race([exit, timeout]);
    },
  };
}
