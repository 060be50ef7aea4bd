/**
 * The `tributary` command line: picks the command from argv and runs it. main.ts binds it to the process; tests call
 * `runCli` directly.
 */
import { readFileSync } from 'node:fs';
import { describeCommand } from './commands/describe.js';
import { dlqReplayCommand } from './commands/dlqReplay.js';
import { lagCommand } from './commands/lag.js';
import { runCommand } from './commands/run.js';
import { topicsCreateCommand } from './commands/topicsCreate.js';
import { type CliIo, type Command, EXIT_OK, EXIT_USAGE, writeLines } from './io.js';

export const mainHelp = `Usage: tributary <command> [options]

Commands:
  run [files or folders...]      run the pipelines (default folder pipelines/) until SIGTERM/SIGINT
  describe [files or folders...] show each pipeline's topics, group, limits and dead-letter topic
                                 (--mermaid for a flowchart, --json)
  topics create [paths...]       create the pipelines' source and dead-letter topics (idempotent)
  lag [paths...]                 committed offset, end offset and lag per group and partition
  dlq replay --from DLQ_TOPIC    re-publish dead-lettered records (to their original topic or --to)

Configuration comes from the environment (KAFKA_BROKERS, KAFKA_SASL_MECHANISM, HTTP_PORT, LOG_LEVEL, ...);
see docs/operations.md. Exit codes: 0 ok, 1 failed, 2 usage or configuration error.

Options:
  -h, --help      show this help (or: tributary <command> --help)
  -v, --version   print the version`;

const USAGE_LINE = 'usage: tributary <command> [options]   (tributary --help)';

/** Commands by the words that name them; two-word commands (`topics create`) first. */
const COMMANDS: readonly (readonly [readonly string[], Command])[] = [
  [['topics', 'create'], topicsCreateCommand],
  [['dlq', 'replay'], dlqReplayCommand],
  [['run'], runCommand],
  [['describe'], describeCommand],
  [['lag'], lagCommand],
];

const GROUPS: Record<string, string> = {
  topics: 'tributary topics create [files or folders...] [options]',
  dlq: 'tributary dlq replay --from DLQ_TOPIC [--to TOPIC | --original] [options]',
};

/** The package version: package.json two folders up from src/cli (three from dist/src/cli). */
export function version(): string {
  for (const relative of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(relative, import.meta.url), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'tributary-kafka' && pkg.version !== undefined) return pkg.version;
    } catch {
      // not there; try the next
    }
  }
  return 'unknown';
}

/** Finds the command named by the first words of argv. */
export function resolveCommand(argv: readonly string[]): { command: Command; rest: string[] } | undefined {
  for (const [words, command] of COMMANDS) {
    if (words.every((word, i) => argv[i] === word)) return { command, rest: argv.slice(words.length) };
  }
  return undefined;
}

export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [first] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    const topic = first === 'help' ? argv.slice(1) : [];
    if (topic.length > 0) return runCli([...topic, '--help'], io);
    writeLines(first === undefined ? io.stderr : io.stdout, mainHelp);
    return first === undefined ? EXIT_USAGE : EXIT_OK;
  }
  if (first === '--version' || first === '-v') {
    io.stdout(version());
    return EXIT_OK;
  }
  const found = resolveCommand(argv);
  if (found === undefined) {
    const group = GROUPS[first];
    if (group !== undefined) {
      const sub = argv[1];
      if (sub === undefined || sub === '--help' || sub === '-h') {
        writeLines(sub === undefined ? io.stderr : io.stdout, `Usage: ${group}`);
        return sub === undefined ? EXIT_USAGE : EXIT_OK;
      }
      io.stderr(`tributary ${first}: unknown subcommand "${sub}"`);
      io.stderr(`usage: ${group}`);
      return EXIT_USAGE;
    }
    io.stderr(`tributary: unknown command "${first}"`);
    io.stderr(USAGE_LINE);
    io.stderr('commands: run, describe, topics create, lag, dlq replay');
    return EXIT_USAGE;
  }
  return found.command(found.rest, io);
}
