/**
 * Reads Tributary's configuration from environment variables (see docs/operations.md), all at once: every problem is
 * collected and thrown as one `ConfigError`, one line per problem, so a bad deployment is fixed in one round.
 */
import { ConfigError, type ConfigProblem } from './configError.js';
import {
  CONFIG_VARIABLES,
  type ConfigVariable,
  DEFAULT_CLIENT_ID,
  DEFAULT_HTTP_PORT,
  DEFAULT_LOG_LEVEL,
  DEFAULT_WORKERS,
  envSchema,
  type KafkaClientLibrary,
  type LogLevel,
  type ParsedEnv,
  SASL_MECHANISMS,
  type SaslMechanism,
} from './configSchema.js';

export interface KafkaSslConfig {
  /** PEM contents of `KAFKA_SSL_CA_FILE`; without it the system's CAs are trusted. */
  readonly ca?: string;
  /** The path the CA was read from (for logs). */
  readonly caFile?: string;
}

export interface KafkaSaslConfig {
  readonly mechanism: SaslMechanism;
  readonly username: string;
  /** Secret: never log it (the logger redacts `*.sasl.password`; `redactConfig` for a safe copy). */
  readonly password: string;
}

export interface KafkaConfig {
  readonly brokers: readonly string[];
  /** Present when `KAFKA_CLIENT` is set; absent means kafkajs. */
  readonly library?: KafkaClientLibrary;
  readonly clientId: string;
  /** Present when `KAFKA_SSL=true`. */
  readonly ssl?: KafkaSslConfig;
  /** Present when `KAFKA_SASL_MECHANISM` is set. */
  readonly sasl?: KafkaSaslConfig;
  readonly connectionTimeoutMs?: number;
  readonly requestTimeoutMs?: number;
}

export interface TributaryConfig {
  readonly kafka: KafkaConfig;
  readonly logLevel: LogLevel;
  readonly httpPort: number;
  /**
   * Engine workers in this process (`TRIBUTARY_WORKERS`; `auto` is already resolved to the number of cores).
   * 1 runs the engine in this process; more runs that many worker processes, each one more member of every
   * pipeline's consumer group, behind one HTTP endpoint (see src/cli/workers/).
   */
  readonly workers: number;
}

const REDACTED = '[REDACTED]';

function present(env: NodeJS.ProcessEnv, name: ConfigVariable): boolean {
  const value = env[name];
  return value !== undefined && value.trim() !== '';
}

/** Rules that involve more than one variable; they look at what was set, valid or not. */
function crossProblems(env: NodeJS.ProcessEnv): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const mechanism = present(env, 'KAFKA_SASL_MECHANISM');
  if (mechanism) {
    for (const name of ['KAFKA_USERNAME', 'KAFKA_PASSWORD'] as const) {
      if (!present(env, name)) problems.push({ variable: name, message: 'required when KAFKA_SASL_MECHANISM is set' });
    }
  } else if (present(env, 'KAFKA_USERNAME') || present(env, 'KAFKA_PASSWORD')) {
    problems.push({
      variable: 'KAFKA_SASL_MECHANISM',
      message: `required when KAFKA_USERNAME or KAFKA_PASSWORD is set, expected one of ${SASL_MECHANISMS.join(', ')}`,
    });
  }
  if (present(env, 'KAFKA_SSL_CA_FILE') && env.KAFKA_SSL?.trim().toLowerCase() !== 'true') {
    problems.push({
      variable: 'KAFKA_SSL_CA_FILE',
      message: 'set, but KAFKA_SSL is not true (set KAFKA_SSL=true to use TLS)',
    });
  }
  return problems;
}

function order(problem: ConfigProblem): number {
  const index = (CONFIG_VARIABLES as readonly string[]).indexOf(problem.variable);
  return index === -1 ? CONFIG_VARIABLES.length : index;
}

function toConfig(env: ParsedEnv): TributaryConfig {
  const brokers = env.KAFKA_BROKERS ?? [];
  const kafka: KafkaConfig = {
    brokers,
    ...(env.KAFKA_CLIENT !== undefined ? { library: env.KAFKA_CLIENT } : {}),
    clientId: env.KAFKA_CLIENT_ID ?? DEFAULT_CLIENT_ID,
    ...(env.KAFKA_SSL ? { ssl: env.KAFKA_SSL_CA_FILE ?? {} } : {}),
    ...(env.KAFKA_SASL_MECHANISM && env.KAFKA_USERNAME !== undefined && env.KAFKA_PASSWORD !== undefined
      ? { sasl: { mechanism: env.KAFKA_SASL_MECHANISM, username: env.KAFKA_USERNAME, password: env.KAFKA_PASSWORD } }
      : {}),
    ...(env.KAFKA_CONNECTION_TIMEOUT !== undefined ? { connectionTimeoutMs: env.KAFKA_CONNECTION_TIMEOUT } : {}),
    ...(env.KAFKA_REQUEST_TIMEOUT !== undefined ? { requestTimeoutMs: env.KAFKA_REQUEST_TIMEOUT } : {}),
  };
  return {
    kafka,
    logLevel: env.LOG_LEVEL ?? DEFAULT_LOG_LEVEL,
    httpPort: env.HTTP_PORT ?? DEFAULT_HTTP_PORT,
    workers: env.TRIBUTARY_WORKERS ?? DEFAULT_WORKERS,
  };
}

/**
 * Validates the environment and returns the typed configuration.
 *
 * @example
 * try {
 *   config = loadConfig(process.env);
 * } catch (error) {
 *   if (error instanceof ConfigError) {
 *     console.error(formatConfigError(error));
 *     process.exit(CONFIG_EXIT_CODE);
 *   }
 *   throw error;
 * }
 *
 * @param env Usually `process.env`.
 * @returns The configuration; throws `ConfigError` (code TRIBUTARY_ERR_CONFIG) listing every problem.
 */
export function loadConfig(env: NodeJS.ProcessEnv): TributaryConfig {
  const raw = Object.fromEntries(CONFIG_VARIABLES.map((name) => [name, env[name]]));
  const parsed = envSchema.safeParse(raw);
  const problems: ConfigProblem[] = parsed.success
    ? []
    : parsed.error.issues.map((issue) => ({
        variable: String(issue.path[0] ?? 'environment'),
        message: issue.message,
      }));
  problems.push(...crossProblems(env));
  if (problems.length > 0 || !parsed.success) {
    throw new ConfigError([...problems].sort((a, b) => order(a) - order(b)));
  }
  return toConfig(parsed.data);
}

/** A copy that is safe to log: the SASL password replaced by `[REDACTED]`, the CA contents left out. */
export function redactConfig(config: TributaryConfig): TributaryConfig {
  const { ssl, sasl, ...kafka } = config.kafka;
  return {
    ...config,
    kafka: {
      ...kafka,
      ...(ssl ? { ssl: ssl.caFile !== undefined ? { caFile: ssl.caFile } : {} } : {}),
      ...(sasl ? { sasl: { ...sasl, password: REDACTED } } : {}),
    },
  };
}
