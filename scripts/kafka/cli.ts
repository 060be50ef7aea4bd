/**
 * npm run kafka:start | kafka:stop | kafka:status  [-- --port 9092 --controller-port 9093 --heap-mb 512]
 * SCRAM: npm run kafka:start -- --scram alice:secret [--scram-mechanism SCRAM-SHA-512] [--sasl-port 9094]
 * adds a SASL_PLAINTEXT listener (default port + 2) with that user; PLAINTEXT stays on --port.
 * TLS: npm run kafka:start -- --scram alice:secret --sasl-ssl-port 9096 [--sasl-ssl-mismatch-port 9097]
 * adds a SASL_SSL listener (SCRAM-SHA-256 and -512, both created for the user) with a CA and broker certificate made
 * by openssl in <state dir>/tls/; the CA's path is printed. The mismatch listener's certificate names only localhost.
 * With --sasl-ssl-port, the SASL_PLAINTEXT listener opens only when --sasl-port is given too.
 */
import { parseArgs } from 'node:util';
import {
  LocalBrokerError,
  type LocalBrokerOptions,
  type LocalBrokerScram,
  localBrokerStatus,
  startLocalBroker,
  stopLocalBroker,
} from './localBroker.js';

function options(): { command: string; opts: LocalBrokerOptions } {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      port: { type: 'string' },
      'controller-port': { type: 'string' },
      'heap-mb': { type: 'string' },
      'state-dir': { type: 'string' },
      scram: { type: 'string' },
      'scram-mechanism': { type: 'string' },
      'sasl-port': { type: 'string' },
      'sasl-ssl-port': { type: 'string' },
      'sasl-ssl-mismatch-port': { type: 'string' },
    },
  });
  const int = (name: string, raw: string | undefined): number | undefined => {
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (!Number.isInteger(n) || n <= 0 || n > 65535)
      throw new LocalBrokerError(`--${name} must be a port/number, got "${raw}"`);
    return n;
  };
  const opts: LocalBrokerOptions = { log: (line) => console.error(line) };
  const port = int('port', values.port);
  const controllerPort = int('controller-port', values['controller-port']);
  const heapMb = int('heap-mb', values['heap-mb']);
  if (port !== undefined) opts.port = port;
  if (controllerPort !== undefined) opts.controllerPort = controllerPort;
  if (heapMb !== undefined) opts.heapMb = heapMb;
  if (values['state-dir'] !== undefined) opts.stateDir = values['state-dir'];
  const saslPort = int('sasl-port', values['sasl-port']);
  if (saslPort !== undefined) opts.saslPort = saslPort;
  const saslSslPort = int('sasl-ssl-port', values['sasl-ssl-port']);
  const mismatchPort = int('sasl-ssl-mismatch-port', values['sasl-ssl-mismatch-port']);
  if (mismatchPort !== undefined && saslSslPort === undefined) {
    throw new LocalBrokerError('--sasl-ssl-mismatch-port needs --sasl-ssl-port');
  }
  const scram = values.scram === undefined ? undefined : scramOption(values.scram, values['scram-mechanism']);
  if (scram === undefined && values['scram-mechanism'] !== undefined)
    throw new LocalBrokerError('--scram-mechanism needs --scram user:password');
  if (saslSslPort !== undefined) {
    if (scram === undefined) throw new LocalBrokerError('--sasl-ssl-port needs a user: add --scram user:password');
    if (saslPort === undefined && scram.mechanism !== undefined) {
      throw new LocalBrokerError(
        "--scram-mechanism picks the SASL_PLAINTEXT listener's mechanism (the SASL_SSL one enables both): add --sasl-port or drop it",
      );
    }
    opts.saslSsl = {
      port: saslSslPort,
      ...(mismatchPort === undefined ? {} : { mismatchPort }),
      users: [{ username: scram.username, password: scram.password }],
    };
  }
  // with --sasl-ssl-port, the SASL_PLAINTEXT listener is opened only on request (--sasl-port)
  if (scram !== undefined && (saslSslPort === undefined || saslPort !== undefined)) opts.scram = scram;
  return { command: positionals[0] ?? 'status', opts };
}

/** `--scram user:password` (the password may itself hold ':'). */
function scramOption(value: string, mechanism: string | undefined): LocalBrokerScram {
  const colon = value.indexOf(':');
  if (colon <= 0 || colon === value.length - 1) {
    throw new LocalBrokerError(`--scram expects user:password, got "${value.slice(0, Math.max(colon, 0))}:…"`);
  }
  const upper = mechanism?.toUpperCase();
  if (upper !== undefined && upper !== 'SCRAM-SHA-256' && upper !== 'SCRAM-SHA-512') {
    throw new LocalBrokerError(`--scram-mechanism must be SCRAM-SHA-256 or SCRAM-SHA-512, got "${mechanism}"`);
  }
  return {
    username: value.slice(0, colon),
    password: value.slice(colon + 1),
    ...(upper === undefined ? {} : { mechanism: upper }),
  };
}

async function main(): Promise<number> {
  const { command, opts } = options();
  switch (command) {
    case 'start': {
      const broker = await startLocalBroker(opts);
      const how = broker.alreadyRunning ? 'already running' : `started in ${broker.startupMs} ms`;
      console.error(`Kafka broker ${how}: pid ${broker.pid}, cluster id ${broker.clusterId}, log ${broker.logFile}`);
      if (broker.saslBootstrap !== undefined && opts.scram !== undefined) {
        const mechanism = (opts.scram.mechanism ?? 'SCRAM-SHA-256').toLowerCase();
        console.error(
          `SCRAM listener on ${broker.saslBootstrap}: KAFKA_BROKERS=${broker.saslBootstrap} ` +
            `KAFKA_SASL_MECHANISM=${mechanism} KAFKA_USERNAME=${opts.scram.username} KAFKA_PASSWORD=…`,
        );
      }
      const user = opts.saslSsl?.users[0];
      if (broker.saslSsl !== undefined && user !== undefined) {
        const { bootstrap, mismatchBootstrap, caFile } = broker.saslSsl;
        console.error(
          `SASL_SSL listener on ${bootstrap} (SCRAM-SHA-256 and SCRAM-SHA-512), CA ${caFile}: ` +
            `KAFKA_BROKERS=${bootstrap} KAFKA_SSL=true KAFKA_SSL_CA_FILE=${caFile} ` +
            `KAFKA_SASL_MECHANISM=scram-sha-256 KAFKA_USERNAME=${user.username} KAFKA_PASSWORD=…`,
        );
        if (mismatchBootstrap !== undefined) {
          console.error(
            `SASL_SSL listener on ${mismatchBootstrap} with a certificate for localhost only: connecting to it by ` +
              '127.0.0.1 fails hostname verification',
          );
        }
      }
      console.log(broker.bootstrap);
      return 0;
    }
    case 'stop': {
      const result = await stopLocalBroker(opts);
      console.error(result.stopped ? `stopped broker pid ${result.pid}` : `nothing to stop: ${result.reason}`);
      return 0;
    }
    case 'status': {
      const status = await localBrokerStatus(opts);
      if (!status.running) {
        console.log(`not running (${status.bootstrap})`);
        return 1;
      }
      console.log(
        status.clusterId === undefined
          ? `pid ${status.pid} running but not answering on ${status.bootstrap}`
          : `running: pid ${status.pid}, ${status.bootstrap}, cluster id ${status.clusterId}`,
      );
      return status.clusterId === undefined ? 1 : 0;
    }
    default:
      console.error(`unknown command "${command}"; use start, stop or status`);
      return 2;
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof LocalBrokerError ? `error: ${error.message}` : error);
    process.exit(1);
  },
);
