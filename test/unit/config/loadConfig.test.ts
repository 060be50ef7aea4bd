import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CONFIG_EXIT_CODE, ConfigError, formatConfigError } from '../../../src/config/configError.js';
import { loadConfig, redactConfig } from '../../../src/config/loadConfig.js';
import { TributaryError } from '../../../src/errors.js';

const BASE = { KAFKA_BROKERS: 'kafka:9092' };
const SECRET = 'hunter2-S3cr3t!';

const dir = mkdtempSync(join(tmpdir(), 'tributary-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const PEM = '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ==\n-----END CERTIFICATE-----\n';
const caFile = join(dir, 'ca.pem');
writeFileSync(caFile, PEM);

/** The problem lines of the ConfigError that `env` causes. */
function problemsOf(env: NodeJS.ProcessEnv): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).message.split('\n');
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig defaults', () => {
  it('needs only KAFKA_BROKERS and fills every default', () => {
    expect(loadConfig({ KAFKA_BROKERS: 'kafka:9092' })).toEqual({
      kafka: { brokers: ['kafka:9092'], clientId: 'tributary' },
      logLevel: 'info',
      httpPort: 9464,
      workers: 1,
    });
  });

  it('treats blank values as unset and ignores unrelated variables', () => {
    expect(
      loadConfig({
        ...BASE,
        KAFKA_CLIENT_ID: '',
        KAFKA_SSL: ' ',
        LOG_LEVEL: '',
        HTTP_PORT: '',
        TRIBUTARY_WORKERS: '',
        PATH: '/usr/bin',
      }),
    ).toEqual({
      kafka: { brokers: ['kafka:9092'], clientId: 'tributary' },
      logLevel: 'info',
      httpPort: 9464,
      workers: 1,
    });
  });

  it('reads a complete production environment', () => {
    const config = loadConfig({
      KAFKA_BROKERS: 'b-1.kafka.internal:9096, b-2.kafka.internal:9096',
      KAFKA_CLIENT_ID: 'transcribe-results',
      KAFKA_SSL: 'true',
      KAFKA_SSL_CA_FILE: caFile,
      KAFKA_SASL_MECHANISM: 'scram-sha-256',
      KAFKA_USERNAME: 'svc-tributary',
      KAFKA_PASSWORD: SECRET,
      KAFKA_CONNECTION_TIMEOUT: '3000',
      KAFKA_REQUEST_TIMEOUT: '30000',
      LOG_LEVEL: 'debug',
      HTTP_PORT: '8080',
      TRIBUTARY_WORKERS: '4',
    });
    expect(config).toEqual({
      kafka: {
        brokers: ['b-1.kafka.internal:9096', 'b-2.kafka.internal:9096'],
        clientId: 'transcribe-results',
        ssl: { ca: PEM, caFile },
        sasl: { mechanism: 'scram-sha-256', username: 'svc-tributary', password: SECRET },
        connectionTimeoutMs: 3000,
        requestTimeoutMs: 30000,
      },
      logLevel: 'debug',
      httpPort: 8080,
      workers: 4,
    });
  });
});

describe('KAFKA_BROKERS', () => {
  it.each([
    ['localhost:9092', ['localhost:9092']],
    ['kafka-1:9092,kafka-2:9093', ['kafka-1:9092', 'kafka-2:9093']],
    [' 10.0.0.5:9092 , 10.0.0.6:9092 ,', ['10.0.0.5:9092', '10.0.0.6:9092']],
    ['[::1]:9092', ['[::1]:9092']],
    ['my_kafka_1:29092', ['my_kafka_1:29092']],
    ['b-1.cluster.kafka.eu-west-1.amazonaws.com:9098', ['b-1.cluster.kafka.eu-west-1.amazonaws.com:9098']],
    ['kafka:1', ['kafka:1']],
    ['kafka:65535', ['kafka:65535']],
  ])('accepts %j', (value, brokers) => {
    expect(loadConfig({ KAFKA_BROKERS: value }).kafka.brokers).toEqual(brokers);
  });

  it('is required', () => {
    expect(problemsOf({})).toEqual([
      'KAFKA_BROKERS: required, expected comma-separated host:port (e.g. "kafka-1:9092,kafka-2:9092")',
    ]);
    expect(problemsOf({ KAFKA_BROKERS: '  ' })).toHaveLength(1);
  });

  it.each([
    ['localhost', 'KAFKA_BROKERS: expected comma-separated host:port, got "localhost"'],
    ['PLAINTEXT://kafka:9092', 'KAFKA_BROKERS: expected comma-separated host:port, got "PLAINTEXT://kafka:9092"'],
    ['kafka:', 'KAFKA_BROKERS: expected comma-separated host:port, got "kafka:"'],
    ['kafka:port', 'KAFKA_BROKERS: expected comma-separated host:port, got "kafka:port"'],
    ['kafka:0', 'KAFKA_BROKERS: expected comma-separated host:port, got "kafka:0" (port must be 1-65535)'],
    ['kafka:65536', 'KAFKA_BROKERS: expected comma-separated host:port, got "kafka:65536" (port must be 1-65535)'],
    ['kaf ka:9092', 'KAFKA_BROKERS: expected comma-separated host:port, got "kaf ka:9092" (invalid host)'],
    ['-kafka:9092', 'KAFKA_BROKERS: expected comma-separated host:port, got "-kafka:9092" (invalid host)'],
    ['300.1.1.1:9092', 'KAFKA_BROKERS: expected comma-separated host:port, got "300.1.1.1:9092" (invalid host)'],
    ['[zz::1]:9092', 'KAFKA_BROKERS: expected comma-separated host:port, got "[zz::1]:9092" (invalid host)'],
    [',,', 'KAFKA_BROKERS: expected comma-separated host:port, got ",,"'],
  ])('rejects %j', (value, line) => {
    expect(problemsOf({ KAFKA_BROKERS: value })).toEqual([line]);
  });

  it('reports each bad entry of a list on its own line', () => {
    expect(problemsOf({ KAFKA_BROKERS: 'ok:9092,localhost,other:99999' })).toEqual([
      'KAFKA_BROKERS: expected comma-separated host:port, got "localhost"',
      'KAFKA_BROKERS: expected comma-separated host:port, got "other:99999" (port must be 1-65535)',
    ]);
  });
});

describe('KAFKA_CLIENT_ID', () => {
  it('accepts printable text', () => {
    expect(loadConfig({ ...BASE, KAFKA_CLIENT_ID: 'video-worker.eu 1' }).kafka.clientId).toBe('video-worker.eu 1');
  });

  it('rejects control characters and overlong ids', () => {
    expect(problemsOf({ ...BASE, KAFKA_CLIENT_ID: 'a\nb' })).toEqual([
      'KAFKA_CLIENT_ID: expected printable text of at most 255 characters, got "a\\nb"',
    ]);
    const [line] = problemsOf({ ...BASE, KAFKA_CLIENT_ID: 'x'.repeat(256) });
    expect(line).toBe(`KAFKA_CLIENT_ID: expected printable text of at most 255 characters, got "${'x'.repeat(77)}..."`);
  });
});

describe('KAFKA_SSL and KAFKA_SSL_CA_FILE', () => {
  it.each([
    ['true', { brokers: ['kafka:9092'], clientId: 'tributary', ssl: {} }],
    ['TRUE', { brokers: ['kafka:9092'], clientId: 'tributary', ssl: {} }],
    ['false', { brokers: ['kafka:9092'], clientId: 'tributary' }],
    ['False', { brokers: ['kafka:9092'], clientId: 'tributary' }],
  ])('accepts KAFKA_SSL=%s', (value, kafka) => {
    expect(loadConfig({ ...BASE, KAFKA_SSL: value }).kafka).toEqual(kafka);
  });

  it.each(['yes', '1', 'on', 'tru'])('rejects KAFKA_SSL=%s', (value) => {
    expect(problemsOf({ ...BASE, KAFKA_SSL: value })).toEqual([`KAFKA_SSL: expected true or false, got "${value}"`]);
  });

  it('reads the CA file contents', () => {
    expect(loadConfig({ ...BASE, KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: caFile }).kafka.ssl).toEqual({
      ca: PEM,
      caFile,
    });
  });

  it('rejects a missing file, a directory and a file without a certificate', () => {
    const missing = join(dir, 'missing.pem');
    expect(problemsOf({ ...BASE, KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: missing })).toEqual([
      `KAFKA_SSL_CA_FILE: expected a readable PEM certificate file, "${missing}" does not exist`,
    ]);
    expect(problemsOf({ ...BASE, KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: dir })).toEqual([
      `KAFKA_SSL_CA_FILE: expected a readable PEM certificate file, "${dir}" is not a file`,
    ]);
    const notPem = join(dir, 'key.txt');
    writeFileSync(notPem, 'not a certificate');
    expect(problemsOf({ ...BASE, KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: notPem })).toEqual([
      `KAFKA_SSL_CA_FILE: expected a readable PEM certificate file, "${notPem}" contains no "-----BEGIN CERTIFICATE-----" block`,
    ]);
  });

  it.skipIf(process.getuid?.() === 0)('rejects an unreadable file', () => {
    const locked = join(dir, 'locked.pem');
    writeFileSync(locked, PEM);
    chmodSync(locked, 0o000);
    expect(problemsOf({ ...BASE, KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: locked })).toEqual([
      `KAFKA_SSL_CA_FILE: expected a readable PEM certificate file, "${locked}" is not readable`,
    ]);
  });

  it('rejects a CA file without KAFKA_SSL=true', () => {
    expect(problemsOf({ ...BASE, KAFKA_SSL_CA_FILE: caFile })).toEqual([
      'KAFKA_SSL_CA_FILE: set, but KAFKA_SSL is not true (set KAFKA_SSL=true to use TLS)',
    ]);
  });
});

describe('KAFKA_SASL_MECHANISM, KAFKA_USERNAME, KAFKA_PASSWORD', () => {
  it.each([
    ['plain', 'plain'],
    ['scram-sha-256', 'scram-sha-256'],
    ['SCRAM-SHA-512', 'scram-sha-512'],
  ])('accepts %s', (value, mechanism) => {
    const config = loadConfig({ ...BASE, KAFKA_SASL_MECHANISM: value, KAFKA_USERNAME: 'u', KAFKA_PASSWORD: SECRET });
    expect(config.kafka.sasl).toEqual({ mechanism, username: 'u', password: SECRET });
  });

  it('keeps the password exactly as given, spaces included', () => {
    const config = loadConfig({
      ...BASE,
      KAFKA_SASL_MECHANISM: 'plain',
      KAFKA_USERNAME: ' u ',
      KAFKA_PASSWORD: ' p w ',
    });
    expect(config.kafka.sasl).toEqual({ mechanism: 'plain', username: 'u', password: ' p w ' });
  });

  it('rejects an unknown mechanism', () => {
    expect(
      problemsOf({ ...BASE, KAFKA_SASL_MECHANISM: 'gssapi', KAFKA_USERNAME: 'u', KAFKA_PASSWORD: SECRET }),
    ).toEqual(['KAFKA_SASL_MECHANISM: expected one of plain, scram-sha-256, scram-sha-512, got "gssapi"']);
  });

  it('requires username and password when a mechanism is set', () => {
    expect(problemsOf({ ...BASE, KAFKA_SASL_MECHANISM: 'plain' })).toEqual([
      'KAFKA_USERNAME: required when KAFKA_SASL_MECHANISM is set',
      'KAFKA_PASSWORD: required when KAFKA_SASL_MECHANISM is set',
    ]);
    expect(problemsOf({ ...BASE, KAFKA_SASL_MECHANISM: 'plain', KAFKA_USERNAME: 'u', KAFKA_PASSWORD: '' })).toEqual([
      'KAFKA_PASSWORD: required when KAFKA_SASL_MECHANISM is set',
    ]);
  });

  it('requires a mechanism when credentials are given', () => {
    expect(problemsOf({ ...BASE, KAFKA_USERNAME: 'u', KAFKA_PASSWORD: SECRET })).toEqual([
      'KAFKA_SASL_MECHANISM: required when KAFKA_USERNAME or KAFKA_PASSWORD is set, expected one of plain, scram-sha-256, scram-sha-512',
    ]);
  });
});

describe('KAFKA_CLIENT', () => {
  it('is absent by default (kafkajs) and picks the client library, any case', () => {
    expect(loadConfig(BASE).kafka.library).toBeUndefined();
    expect(loadConfig({ ...BASE, KAFKA_CLIENT: 'kafkajs' }).kafka.library).toBe('kafkajs');
    expect(loadConfig({ ...BASE, KAFKA_CLIENT: ' Platformatic ' }).kafka.library).toBe('platformatic');
  });

  it.each(['rdkafka', 'platformatic/kafka', 'kafka-js'])('rejects %j with what it expects', (value) => {
    expect(problemsOf({ ...BASE, KAFKA_CLIENT: value })).toEqual([
      `KAFKA_CLIENT: expected one of kafkajs, platformatic, got "${value}"`,
    ]);
  });
});

describe('KAFKA_CONNECTION_TIMEOUT and KAFKA_REQUEST_TIMEOUT', () => {
  it('accept positive integers of milliseconds', () => {
    const { kafka } = loadConfig({ ...BASE, KAFKA_CONNECTION_TIMEOUT: '1', KAFKA_REQUEST_TIMEOUT: '2147483647' });
    expect(kafka.connectionTimeoutMs).toBe(1);
    expect(kafka.requestTimeoutMs).toBe(2_147_483_647);
  });

  it.each(['0', '-5', '1.5', '10s', 'abc', '2147483648', '1e3'])('reject %j', (value) => {
    const expected = `expected a positive integer of milliseconds (1 to 2147483647), got "${value}"`;
    expect(problemsOf({ ...BASE, KAFKA_CONNECTION_TIMEOUT: value, KAFKA_REQUEST_TIMEOUT: value })).toEqual([
      `KAFKA_CONNECTION_TIMEOUT: ${expected}`,
      `KAFKA_REQUEST_TIMEOUT: ${expected}`,
    ]);
  });
});

describe('LOG_LEVEL', () => {
  it.each(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])('accepts %s', (level) => {
    expect(loadConfig({ ...BASE, LOG_LEVEL: level }).logLevel).toBe(level);
  });

  it('is case-insensitive', () => {
    expect(loadConfig({ ...BASE, LOG_LEVEL: 'DEBUG' }).logLevel).toBe('debug');
  });

  it.each(['verbose', 'warning', '30'])('rejects %s', (level) => {
    expect(problemsOf({ ...BASE, LOG_LEVEL: level })).toEqual([
      `LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent, got "${level}"`,
    ]);
  });
});

describe('HTTP_PORT', () => {
  it.each([
    ['1', 1],
    ['8080', 8080],
    ['65535', 65535],
  ])('accepts %s', (value, port) => {
    expect(loadConfig({ ...BASE, HTTP_PORT: value }).httpPort).toBe(port);
  });

  it.each(['0', '65536', '-1', '80.5', 'http', '0x50'])('rejects %j', (value) => {
    expect(problemsOf({ ...BASE, HTTP_PORT: value })).toEqual([
      `HTTP_PORT: expected an integer from 1 to 65535, got "${value}"`,
    ]);
  });
});

describe('TRIBUTARY_WORKERS', () => {
  it.each([
    ['1', 1],
    ['2', 2],
    [' 8 ', 8],
    ['256', 256],
  ])('accepts %j', (value, workers) => {
    expect(loadConfig({ ...BASE, TRIBUTARY_WORKERS: value }).workers).toBe(workers);
  });

  it.each(['auto', 'AUTO', ' Auto '])('resolves %j to the cores this process may use', (value) => {
    expect(loadConfig({ ...BASE, TRIBUTARY_WORKERS: value }).workers).toBe(Math.min(availableParallelism(), 256));
  });

  it.each(['0', '-1', '1.5', '257', 'two', 'max', '0x2', '1e1'])('rejects %j', (value) => {
    expect(problemsOf({ ...BASE, TRIBUTARY_WORKERS: value })).toEqual([
      `TRIBUTARY_WORKERS: expected a positive integer (1 to 256) or auto, got "${value}"`,
    ]);
  });

  it('is reported after the other variables', () => {
    expect(problemsOf({ ...BASE, HTTP_PORT: 'x', TRIBUTARY_WORKERS: 'x' })).toEqual([
      'HTTP_PORT: expected an integer from 1 to 65535, got "x"',
      'TRIBUTARY_WORKERS: expected a positive integer (1 to 256) or auto, got "x"',
    ]);
  });
});

describe('ConfigError', () => {
  it('lists every problem, one line each in variable order, as a TRIBUTARY_ERR_CONFIG error', () => {
    let caught: unknown;
    try {
      loadConfig({ HTTP_PORT: '0', LOG_LEVEL: 'loud', KAFKA_SSL: 'maybe', KAFKA_SASL_MECHANISM: 'plain' });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(TributaryError);
    const error = caught as ConfigError;
    expect(error.code).toBe('TRIBUTARY_ERR_CONFIG');
    expect(error.retriable).toBe(false);
    expect(error.problems.map((problem) => problem.variable)).toEqual([
      'KAFKA_BROKERS',
      'KAFKA_SSL',
      'KAFKA_USERNAME',
      'KAFKA_PASSWORD',
      'LOG_LEVEL',
      'HTTP_PORT',
    ]);
    expect(error.message.split('\n')).toHaveLength(6);
    expect(formatConfigError(error)).toBe(
      [
        'tributary: invalid configuration (6 problems)',
        '  KAFKA_BROKERS: required, expected comma-separated host:port (e.g. "kafka-1:9092,kafka-2:9092")',
        '  KAFKA_SSL: expected true or false, got "maybe"',
        '  KAFKA_USERNAME: required when KAFKA_SASL_MECHANISM is set',
        '  KAFKA_PASSWORD: required when KAFKA_SASL_MECHANISM is set',
        '  LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent, got "loud"',
        '  HTTP_PORT: expected an integer from 1 to 65535, got "0"',
      ].join('\n'),
    );
    expect(CONFIG_EXIT_CODE).toBe(2);
  });

  it('never shows the password, whatever else is wrong', () => {
    const envs: NodeJS.ProcessEnv[] = [
      { KAFKA_PASSWORD: SECRET },
      { KAFKA_BROKERS: 'localhost', KAFKA_USERNAME: 'u', KAFKA_PASSWORD: SECRET },
      { ...BASE, KAFKA_SASL_MECHANISM: 'kerberos', KAFKA_USERNAME: 'u', KAFKA_PASSWORD: SECRET },
      { ...BASE, KAFKA_SASL_MECHANISM: 'plain', KAFKA_PASSWORD: SECRET, HTTP_PORT: 'x', LOG_LEVEL: 'x' },
    ];
    for (const env of envs) {
      let error: unknown;
      try {
        loadConfig(env);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(ConfigError);
      const config = error as ConfigError;
      expect(config.problems.length).toBeGreaterThan(0);
      const everything = [
        formatConfigError(config),
        JSON.stringify(config),
        JSON.stringify(config.problems),
        config.stack,
      ];
      for (const text of everything) expect(text).not.toContain(SECRET);
    }
  });

  it('never shows the password even when it is the only thing wrong', () => {
    const env = { ...BASE, KAFKA_PASSWORD: SECRET };
    expect(problemsOf(env)).toEqual([
      'KAFKA_SASL_MECHANISM: required when KAFKA_USERNAME or KAFKA_PASSWORD is set, expected one of plain, scram-sha-256, scram-sha-512',
    ]);
    try {
      loadConfig(env);
    } catch (error) {
      expect(JSON.stringify(error)).not.toContain(SECRET);
      expect(String((error as Error).stack)).not.toContain(SECRET);
      expect(JSON.stringify((error as ConfigError).problems)).not.toContain(SECRET);
    }
  });
});

describe('redactConfig', () => {
  it('replaces the password and drops the CA contents', () => {
    const config = loadConfig({
      ...BASE,
      KAFKA_SSL: 'true',
      KAFKA_SSL_CA_FILE: caFile,
      KAFKA_SASL_MECHANISM: 'plain',
      KAFKA_USERNAME: 'u',
      KAFKA_PASSWORD: SECRET,
    });
    const safe = redactConfig(config);
    expect(safe.kafka.sasl).toEqual({ mechanism: 'plain', username: 'u', password: '[REDACTED]' });
    expect(safe.kafka.ssl).toEqual({ caFile });
    expect(JSON.stringify(safe)).not.toContain(SECRET);
    // The original is untouched.
    expect(config.kafka.sasl?.password).toBe(SECRET);
  });
});
