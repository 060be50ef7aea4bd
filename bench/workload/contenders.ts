/**
 * Who runs the workload. Node contenders are variant scripts (bench/workload/*.ts, compiled by bench/tsconfig.json
 * and run with runVariant); the JVM ones are run by javaContenders.ts.
 *
 * (e) Raw loops on each candidate Kafka client: a hand loop doing exactly what kafkajsLoop.ts does, on another client,
 * is one more entry of CLIENT_LOOPS — write `bench/workload/<client>Loop.ts` with runVariant (same arguments, same
 * workload from definition.ts, at-least-once, commits on an interval), add it to bench/tsconfig.json's `include`,
 * and list it here.
 */

export interface NodeContender {
  kind: 'node';
  /** Short id: `--contenders` filter, topic and group names. */
  id: string;
  label: string;
  /** The variant script, relative to bench/ (compiled to .tributary/bench-build/bench/). */
  script: string;
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

export const TRIBUTARY: NodeContender = {
  kind: 'node',
  id: 'tributary',
  label: '(a) Tributary (createEngine, compiled JS)',
  script: 'workload/tributaryWorkload.ts',
};

/** (a') the same pipeline on the @platformatic/kafka adapter (KAFKA_CLIENT=platformatic). */
export const TRIBUTARY_PLATFORMATIC: NodeContender = {
  kind: 'node',
  id: 'tributary-platformatic',
  label: "(a') Tributary on @platformatic/kafka (KAFKA_CLIENT=platformatic)",
  script: 'workload/tributaryWorkloadPlatformatic.ts',
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
export const CONTENDERS: readonly Contender[] = [TRIBUTARY, TRIBUTARY_PLATFORMATIC, ...CLIENT_LOOPS, STREAMS, CEILING];
