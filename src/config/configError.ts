/**
 * A start-up configuration problem. The message has one line per problem, each naming the variable and what was
 * expected, e.g. `KAFKA_BROKERS: expected comma-separated host:port, got "localhost"`. Secrets never appear in it.
 */
import { TributaryError } from '../errors.js';

/** The CLI's exit code for bad configuration. */
export const CONFIG_EXIT_CODE = 2;

export interface ConfigProblem {
  /** The environment variable at fault, e.g. `KAFKA_BROKERS`. */
  readonly variable: string;
  /** What was expected (and, for non-secret variables, what was found). */
  readonly message: string;
}

export class ConfigError extends TributaryError {
  override name = 'ConfigError';
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    super('TRIBUTARY_ERR_CONFIG', problems.map(({ variable, message }) => `${variable}: ${message}`).join('\n'), {
      details: problems,
    });
    this.problems = problems;
  }
}

/**
 * The text the CLI prints before exiting with `CONFIG_EXIT_CODE`:
 *
 * ```
 * tributary: invalid configuration (2 problems)
 *   KAFKA_BROKERS: expected comma-separated host:port, got "localhost"
 *   HTTP_PORT: expected an integer from 1 to 65535, got "0"
 * ```
 */
export function formatConfigError(error: ConfigError): string {
  const count = error.problems.length;
  const lines = error.problems.map(({ variable, message }) => `  ${variable}: ${message}`);
  return [`tributary: invalid configuration (${count} problem${count === 1 ? '' : 's'})`, ...lines].join('\n');
}
