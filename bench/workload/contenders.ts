/**
 * Who runs the workload. Node contenders are variant scripts (bench/workload/*.ts, compiled by bench/tsconfig.json
 * and run with runVariant); the JVM ones are run by javaContenders.ts.
 *
 * (e) Raw loops on each candidate Kafka client: a hand loop doing exactly what kafkajsLoop.ts does, on another client,
 * is one more entry of CLIENT_LOOPS — write `bench/workload/<client>Loop.ts` with runVariant (same arguments, same
 * workload from definition.ts, at-least-once, commits on an interval), add it to bench/tsconfig.json's `include`,
 * and list it here.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../child.js';

export interface NodeContender {
  kind: 'node';
  /** Short id: `--contenders` filter, topic and group names. */
  id: string;
  label: string;
  /** The variant script, relative to bench/ (compiled to .tributary/bench-build/bench/). */
  script: string;
  /** Node options the contender runs with (none: Node's defaults). */
  nodeOptions?: readonly string[];
}

export interface StreamsContender {
  kind: 'streams';
  id: 'streams';
  label: string;
}

export interface CeilingContender {
  kind: 'ceiling';
  id: 'ceiling';
  label: string;
}

export type Contender = NodeContender | StreamsContender | CeilingContender;

/**
 * The Node options the image runs the engine with, read from the Dockerfile itself so the bench measures what the
 * container runs: its `NODE_OPTIONS`, then the options its ENTRYPOINT gives `node` before the script (those Node
 * refuses in NODE_OPTIONS, such as `--heap-growing-percent`). None: Node's defaults.
 */
export function containerNodeOptions(dockerfile = join(repoRoot, 'Dockerfile')): string[] {
  const text = readFileSync(dockerfile, 'utf8');
  const env = /NODE_OPTIONS="([^"]*)"/.exec(text);
  const fromEnv = env ? (env[1] as string).split(/\s+/).filter(Boolean) : [];
  const entrypoint = /^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(text);
  const command = entrypoint ? (JSON.parse(entrypoint[1] as string) as string[]) : [];
  const script = command.findIndex((arg, i) => i > 0 && !arg.startsWith('-'));
  const fromCommand = command[0] === 'node' ? command.slice(1, script < 0 ? undefined : script) : [];
  return [...fromEnv, ...fromCommand];
}

const imageOptions = containerNodeOptions();
const asTheImage = imageOptions.length === 0 ? "Node's default heap sizing" : imageOptions.join(' ');

/** (a) the engine as the image runs it: default client (@platformatic/kafka), the image's Node options. */
export const TRIBUTARY: NodeContender = {
  kind: 'node',
  id: 'tributary',
  label: `(a) Tributary (createEngine, compiled JS, default client @platformatic/kafka, ${asTheImage})`,
  script: 'workload/tributaryWorkload.ts',
  nodeOptions: imageOptions,
};

/** (a') the same with Node's default heap sizing: what the image's options save in memory and cost in CPU. */
export const TRIBUTARY_DEFAULT_HEAP: NodeContender = {
  kind: 'node',
  id: 'tributary-default-heap',
  label: "(a') Tributary, the same with Node's default heap sizing (no options)",
  script: 'workload/tributaryWorkload.ts',
  nodeOptions: [],
};

/** (a'') the same pipeline on the kafkajs adapter (KAFKA_CLIENT=kafkajs), as the image runs it: only the client differs. */
export const TRIBUTARY_KAFKAJS: NodeContender = {
  kind: 'node',
  id: 'tributary-kafkajs',
  label: `(a'') Tributary on kafkajs (KAFKA_CLIENT=kafkajs), ${asTheImage}`,
  script: 'workload/tributaryWorkloadKafkajs.ts',
  nodeOptions: imageOptions,
};

/** (a''') the command line with 2 engine workers in one group (TRIBUTARY_WORKERS=2), the image's Node options. */
export const TRIBUTARY_WORKERS: NodeContender = {
  kind: 'node',
  id: 'tributary-workers',
  label: `(a''') Tributary, \`tributary run\` with TRIBUTARY_WORKERS=2 (${asTheImage}; RSS: the largest process)`,
  script: 'workload/tributaryWorkers.ts',
  nodeOptions: imageOptions,
};

/** (a'''') the same 2 workers with Node's default heap sizing: the memory target is per worker. */
export const TRIBUTARY_WORKERS_DEFAULT_HEAP: NodeContender = {
  kind: 'node',
  id: 'tributary-workers-default-heap',
  label: "(a'''') Tributary, 2 workers, each with Node's default heap sizing (no options)",
  script: 'workload/tributaryWorkers.ts',
  nodeOptions: [],
};

/** (b) and (e): hand-written loops, one per candidate client. */
export const CLIENT_LOOPS: readonly NodeContender[] = [
  {
    kind: 'node',
    id: 'kafkajs',
    label: '(b) hand loop on kafkajs 2.2.4 (eachBatch, 5 requests in flight, commits every 1 s)',
    script: 'workload/kafkajsLoop.ts',
  },
  {
    kind: 'node',
    id: 'platformatic',
    label: '(e) hand loop on @platformatic/kafka 2.12.1 (MessagesStream, 5 requests in flight, commits every 1 s)',
    script: 'workload/platformaticLoop.ts',
  },
];

export const STREAMS: StreamsContender = {
  kind: 'streams',
  id: 'streams',
  label: '(c) Kafka Streams',
};

export const CEILING: CeilingContender = {
  kind: 'ceiling',
  id: 'ceiling',
  label: '(d) ConsumerPerformance (consume only: the ceiling)',
};

/** In the order they run. */
export const CONTENDERS: readonly Contender[] = [
  TRIBUTARY,
  TRIBUTARY_DEFAULT_HEAP,
  TRIBUTARY_KAFKAJS,
  TRIBUTARY_WORKERS,
  TRIBUTARY_WORKERS_DEFAULT_HEAP,
  ...CLIENT_LOOPS,
  STREAMS,
  CEILING,
];
