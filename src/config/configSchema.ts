/**
 * The zod schema of Tributary's environment variables. Each variable is checked on its own and reports its problem
 * as one readable message naming what was expected; cross-variable rules live in `loadConfig.ts`. Blank values count
 * as unset (compose files often write `NAME=`). The password is never echoed back.
 */
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { parseBroker, splitBrokers } from './brokers.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const SASL_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];

/** The Kafka client libraries an adapter exists for (src/kafka/); platformatic (@platformatic/kafka) is the default. */
export const KAFKA_CLIENTS = ['kafkajs', 'platformatic'] as const;
export type KafkaClientLibrary = (typeof KAFKA_CLIENTS)[number];

/** Every variable Tributary reads, in the order problems are reported. */
export const CONFIG_VARIABLES = [
  'KAFKA_BROKERS',
  'KAFKA_CLIENT',
  'KAFKA_CLIENT_ID',
  'KAFKA_SSL',
  'KAFKA_SSL_CA_FILE',
  'KAFKA_SASL_MECHANISM',
  'KAFKA_USERNAME',
  'KAFKA_PASSWORD',
  'KAFKA_CONNECTION_TIMEOUT',
  'KAFKA_REQUEST_TIMEOUT',
  'LOG_LEVEL',
  'HTTP_PORT',
  'TRIBUTARY_WORKERS',
] as const;
export type ConfigVariable = (typeof CONFIG_VARIABLES)[number];

export const DEFAULT_CLIENT_ID = 'tributary';
export const DEFAULT_HTTP_PORT = 9464;
export const DEFAULT_LOG_LEVEL: LogLevel = 'info';
export const DEFAULT_WORKERS = 1;
/** More engine workers than this in one container is a mistake, not a deployment (run more containers). */
export const MAX_WORKERS = 256;
/** setTimeout's upper bound. */
const MAX_TIMEOUT_MS = 2_147_483_647;

/** The value as it appears in a message: quoted, escaped, and cut when long. Never used for secrets. */
export function shown(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
}

type Ctx = z.core.$RefinementCtx<string | undefined>;

function problem(ctx: Ctx, message: string): undefined {
  ctx.addIssue({ code: 'custom', message });
  return undefined;
}

/** A variable that may be unset; blank means unset. `trim` is off only for secrets. */
function variable<T>(parse: (value: string | undefined, ctx: Ctx) => T, trim = true) {
  return z
    .string()
    .optional()
    .transform((raw, ctx) => {
      const value = raw === undefined ? undefined : trim ? raw.trim() : raw;
      return parse(value === '' ? undefined : value, ctx);
    });
}

function positiveMs(value: string | undefined, ctx: Ctx): number | undefined {
  if (value === undefined) return undefined;
  const ms = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(ms) || ms < 1 || ms > MAX_TIMEOUT_MS) {
    return problem(ctx, `expected a positive integer of milliseconds (1 to ${MAX_TIMEOUT_MS}), got ${shown(value)}`);
  }
  return ms;
}

function readCaFile(path: string, ctx: Ctx): { ca: string; caFile: string } | undefined {
  const expected = 'expected a readable PEM certificate file';
  try {
    if (!statSync(path).isFile()) return problem(ctx, `${expected}, ${shown(path)} is not a file`);
    accessSync(path, constants.R_OK);
    const ca = readFileSync(path, 'utf8');
    if (!ca.includes('-----BEGIN CERTIFICATE-----')) {
      return problem(ctx, `${expected}, ${shown(path)} contains no "-----BEGIN CERTIFICATE-----" block`);
    }
    return { ca, caFile: path };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'is not readable' : `cannot be read (${code})`;
    return problem(ctx, `${expected}, ${shown(path)} ${why}`);
  }
}

export const envSchema = z.object({
  KAFKA_BROKERS: variable((value, ctx): string[] | undefined => {
    const expected = 'expected comma-separated host:port';
    if (value === undefined) return problem(ctx, `required, ${expected} (e.g. "kafka-1:9092,kafka-2:9092")`);
    const entries = splitBrokers(value);
    if (entries.length === 0) return problem(ctx, `${expected}, got ${shown(value)}`);
    const brokers: string[] = [];
    for (const entry of entries) {
      const parsed = parseBroker(entry);
      if (parsed.ok) brokers.push(parsed.broker);
      else if (parsed.reason === 'not host:port') problem(ctx, `${expected}, got ${shown(entry)}`);
      else problem(ctx, `${expected}, got ${shown(entry)} (${parsed.reason})`);
    }
    return brokers.length === entries.length ? brokers : undefined;
  }),
  KAFKA_CLIENT: variable((value, ctx): KafkaClientLibrary | undefined => {
    if (value === undefined) return undefined;
    const lower = value.toLowerCase();
    if ((KAFKA_CLIENTS as readonly string[]).includes(lower)) return lower as KafkaClientLibrary;
    return problem(ctx, `expected one of ${KAFKA_CLIENTS.join(', ')}, got ${shown(value)}`);
  }),
  KAFKA_CLIENT_ID: variable((value, ctx): string | undefined => {
    if (value === undefined) return DEFAULT_CLIENT_ID;
    // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
    if (value.length > 255 || /[\u0000-\u001f\u007f]/.test(value)) {
      return problem(ctx, `expected printable text of at most 255 characters, got ${shown(value)}`);
    }
    return value;
  }),
  KAFKA_SSL: variable((value, ctx): boolean | undefined => {
    if (value === undefined) return false;
    const lower = value.toLowerCase();
    if (lower === 'true') return true;
    if (lower === 'false') return false;
    return problem(ctx, `expected true or false, got ${shown(value)}`);
  }),
  KAFKA_SSL_CA_FILE: variable((value, ctx) => (value === undefined ? undefined : readCaFile(value, ctx))),
  KAFKA_SASL_MECHANISM: variable((value, ctx): SaslMechanism | undefined => {
    if (value === undefined) return undefined;
    const lower = value.toLowerCase();
    if ((SASL_MECHANISMS as readonly string[]).includes(lower)) return lower as SaslMechanism;
    return problem(ctx, `expected one of ${SASL_MECHANISMS.join(', ')}, got ${shown(value)}`);
  }),
  KAFKA_USERNAME: variable((value) => value),
  // Never echoed: no message below (or in loadConfig) shows its value.
  KAFKA_PASSWORD: variable((value) => value, false),
  KAFKA_CONNECTION_TIMEOUT: variable(positiveMs),
  KAFKA_REQUEST_TIMEOUT: variable(positiveMs),
  LOG_LEVEL: variable((value, ctx): LogLevel | undefined => {
    if (value === undefined) return DEFAULT_LOG_LEVEL;
    const lower = value.toLowerCase();
    if ((LOG_LEVELS as readonly string[]).includes(lower)) return lower as LogLevel;
    return problem(ctx, `expected one of ${LOG_LEVELS.join(', ')}, got ${shown(value)}`);
  }),
  HTTP_PORT: variable((value, ctx): number | undefined => {
    if (value === undefined) return DEFAULT_HTTP_PORT;
    const port = /^\d+$/.test(value) ? Number(value) : Number.NaN;
    if (!Number.isInteger(port) || port < 1 || port > 65_535) {
      return problem(ctx, `expected an integer from 1 to 65535, got ${shown(value)}`);
    }
    return port;
  }),
  TRIBUTARY_WORKERS: variable((value, ctx): number | undefined => {
    if (value === undefined) return DEFAULT_WORKERS;
    if (value.toLowerCase() === 'auto') return Math.min(availableParallelism(), MAX_WORKERS);
    const workers = /^\d+$/.test(value) ? Number(value) : Number.NaN;
    if (!Number.isInteger(workers) || workers < 1 || workers > MAX_WORKERS) {
      return problem(ctx, `expected a positive integer (1 to ${MAX_WORKERS}) or auto, got ${shown(value)}`);
    }
    return workers;
  }),
});

export type ParsedEnv = z.output<typeof envSchema>;
