/**
 * The process logger: pino JSON lines on stdout (pretty-printed with pino-pretty only on a terminal, when it is
 * installed), secrets redacted, and `recordBindings` to put a record's topic, partition, offset and correlation id on
 * every line about it.
 */
import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import {
  type DestinationStream,
  type LevelWithSilent,
  type Logger,
  pino,
  stdSerializers,
  stdTimeFunctions,
} from 'pino';
import type { RecordOrigin } from './envelope.js';

/** What pino replaces with `[REDACTED]`, at the top level and nested up to two objects deep. */
export const REDACT_PATHS: readonly string[] = [
  'password',
  '*.password',
  '*.*.password',
  'sasl.password',
  '*.sasl.password',
  '*.*.sasl.password',
  'secret',
  '*.secret',
  'KAFKA_PASSWORD',
  '*.KAFKA_PASSWORD',
  'headers.authorization',
  '*.headers.authorization',
  '*.*.headers.authorization',
  'headers.Authorization',
  '*.headers.Authorization',
  '*.*.headers.Authorization',
];

export const REDACTED = '[REDACTED]';

export interface LoggerOptions {
  /** Minimum level written. Default `info`. */
  level?: LevelWithSilent;
  /** Human-readable lines through pino-pretty instead of JSON. Default: stdout is a terminal. */
  pretty?: boolean;
  /** Where lines go. Default stdout. */
  destination?: DestinationStream;
}

const require = createRequire(import.meta.url);

/** pino-pretty is a development dependency: absent from the production image. */
function prettyAvailable(): boolean {
  try {
    require.resolve('pino-pretty');
    return true;
  } catch {
    return false;
  }
}

/**
 * Creates the root logger. Lines are JSON objects with `level` (label), `time` (ISO 8601), `service: "tributary"`,
 * `pid`, `hostname` and `msg`; `err`/`error` fields are serialized with message and stack.
 *
 * @example
 * const logger = createLogger({ level: config.logLevel });
 * element.context.logger.warn({ ...recordBindings(element.origin), err }, 'record dead-lettered');
 *
 * @param options Level, pretty printing and destination; all optional.
 * @returns A pino logger.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const { level = 'info', destination } = options;
  const wantPretty = options.pretty ?? (destination === undefined && process.stdout.isTTY === true);
  const pretty = wantPretty && prettyAvailable();
  const pinoOptions = {
    level,
    base: { service: 'tributary', pid: process.pid, hostname: hostname() },
    timestamp: stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
    serializers: { err: stdSerializers.err, error: stdSerializers.err },
    redact: { paths: [...REDACT_PATHS], censor: REDACTED },
  };

  let logger: Logger;
  if (pretty && destination !== undefined) {
    // Formats in this thread, straight into the given destination (tests, embedding).
    const { prettyFactory } = require('pino-pretty') as {
      prettyFactory: (options: object) => (line: string) => string;
    };
    const prettify = prettyFactory({ colorize: false });
    logger = pino(pinoOptions, { write: (line: string) => destination.write(prettify(line)) });
  } else if (pretty) {
    logger = pino({ ...pinoOptions, transport: { target: 'pino-pretty', options: { translateTime: 'SYS:standard' } } });
  } else {
    logger = pino(pinoOptions, destination);
  }
  if (wantPretty && !pretty) logger.debug('pino-pretty is not installed; writing JSON logs');
  return logger;
}

export interface RecordBindings {
  readonly topic: string;
  readonly partition: number;
  /** int64 offset as a decimal string (JSON has no bigint). */
  readonly offset: string;
  readonly correlationId: string;
}

/**
 * The fields every log line about a record carries: where it was consumed and its correlation id. The pipeline's
 * logger (`element.context.logger`) already binds `pipeline` and `groupId`, so a line logged there has all of them.
 */
export function recordBindings(origin: RecordOrigin): RecordBindings {
  return {
    topic: origin.topic,
    partition: origin.partition,
    offset: origin.offset.toString(),
    correlationId: origin.correlationId,
  };
}
