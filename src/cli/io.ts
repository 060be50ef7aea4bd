/**
 * What a CLI command gets instead of touching the process: output lines, the environment and the working directory.
 * Every command is `(argv, io) => Promise<exitCode>`, so tests call commands in-process and main.ts binds the process.
 */
import type { DestinationStream } from 'pino';

export interface CliIo {
  /** One line of command output (without the newline). */
  stdout(line: string): void;
  /** One line of diagnostics (without the newline). */
  stderr(line: string): void;
  /** Where configuration is read from; usually `process.env`. */
  env: NodeJS.ProcessEnv;
  /** Relative pipeline paths resolve against it. Default `process.cwd()`. */
  cwd?: string;
  /**
   * For commands that run until told to stop (`run`): a signal aborted on SIGTERM/SIGINT. main.ts installs the
   * signal handlers only when a command asks for it, so Ctrl-C ends the short commands the usual way.
   */
  shutdownSignal?: () => AbortSignal;
  /** Where `run` writes its pino log lines. Default stdout. */
  logDestination?: DestinationStream;
}

/** A command's signature: parsed arguments after the command name, and the process it runs in. */
export type Command = (argv: string[], io: CliIo) => Promise<number>;

/** Exit codes: 0 done; 1 failed while running (Kafka unreachable, authentication failed); 2 usage or configuration. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** Wrong arguments: the command prints the message and its usage line, and exits 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Writes a multi-line text line by line. */
export function writeLines(write: (line: string) => void, text: string): void {
  for (const line of text.replace(/\n$/, '').split('\n')) write(line);
}
