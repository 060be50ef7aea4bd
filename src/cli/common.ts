/** What several commands share: reporting usage errors, loading configuration and pipelines, an admin client. */
import { ConfigError, formatConfigError } from '../config/configError.js';
import { loadConfig, type TributaryConfig } from '../config/loadConfig.js';
import { createKafkajsClient } from '../kafka/kafkajsClient.js';
import type { AdminPort } from '../kafka/ports.js';
import { type CliIo, EXIT_FAILURE, EXIT_USAGE, UsageError, writeLines } from './io.js';
import { describeKafkaError } from './kafkaErrors.js';
import { type LoadedPipelines, loadPipelines, PipelineLoadError } from './loadPipelines.js';

/** A command's failure that has been reported on stderr; carries the exit code. */
export class Reported extends Error {
  override name = 'Reported';
  readonly exitCode: number;
  constructor(exitCode: number) {
    super(`exit ${exitCode}`);
    this.exitCode = exitCode;
  }
}

/**
 * Runs a command body; a `UsageError` prints the message and the usage line (exit 2), a `Reported` failure exits
 * with its code. Anything else propagates (main prints it, exit 1).
 */
export async function commandBody(
  io: CliIo,
  command: string,
  usage: string,
  body: () => Promise<number>,
): Promise<number> {
  try {
    return await body();
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`tributary ${command}: ${error.message}`);
      io.stderr(`usage: ${usage}   (tributary ${command} --help)`);
      return EXIT_USAGE;
    }
    if (error instanceof Reported) return error.exitCode;
    throw error;
  }
}

/** The configuration, or (printed) one line per problem and exit 2. */
export function configOrReport(io: CliIo): TributaryConfig {
  try {
    return loadConfig(io.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    writeLines(io.stderr, formatConfigError(error));
    throw new Reported(EXIT_USAGE);
  }
}

/** The pipelines, or (printed) why they do not load and exit 2. */
export async function pipelinesOrReport(
  io: CliIo,
  paths: readonly string[],
  options: { allowEmpty?: boolean } = {},
): Promise<LoadedPipelines> {
  try {
    return await loadPipelines(paths, { ...options, ...(io.cwd === undefined ? {} : { cwd: io.cwd }) });
  } catch (error) {
    if (!(error instanceof PipelineLoadError)) throw error;
    writeLines(io.stderr, `tributary: ${error.message}`);
    throw new Reported(EXIT_USAGE);
  }
}

/** Connects an admin client, runs `use`, disconnects. A Kafka error is printed as one line (exit 1). */
export async function withAdmin<T>(
  io: CliIo,
  config: TributaryConfig,
  use: (admin: AdminPort) => Promise<T>,
): Promise<T> {
  const admin = createKafkajsClient(config.kafka).admin();
  try {
    await admin.connect();
    return await use(admin);
  } catch (error) {
    if (error instanceof Reported || error instanceof UsageError) throw error;
    io.stderr(`tributary: ${describeKafkaError(error, config.kafka).message}`);
    throw new Reported(EXIT_FAILURE);
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/** Left-aligned columns separated by two spaces; numbers are right-aligned. */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = headers.map((header, i) => Math.max(header.length, ...rows.map((row) => (row[i] ?? '').length)));
  const numeric = headers.map((_, i) => rows.length > 0 && rows.every((row) => /^-?[\d*]+$|^-$/.test(row[i] ?? '')));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (numeric[i] ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)];
}
