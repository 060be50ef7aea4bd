/**
 * npm run kafka:start | kafka:stop | kafka:status  [-- --port 9092 --controller-port 9093 --heap-mb 512]
 */
import { parseArgs } from 'node:util';
import {
  LocalBrokerError,
  type LocalBrokerOptions,
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
  return { command: positionals[0] ?? 'status', opts };
}

async function main(): Promise<number> {
  const { command, opts } = options();
  switch (command) {
    case 'start': {
      const broker = await startLocalBroker(opts);
      const how = broker.alreadyRunning ? 'already running' : `started in ${broker.startupMs} ms`;
      console.error(`Kafka broker ${how}: pid ${broker.pid}, cluster id ${broker.clusterId}, log ${broker.logFile}`);
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
