/**
 * Contender (a): the workload as a Tributary pipeline through the public API — parseJson → validate(zod) →
 * mapValue(enrich) → branchToDeadLetter → publish keyed by userId (tributaryChain.ts) — in createEngine with the
 * engine's defaults (maxInFlight 1000 unless the bench says otherwise, commits every second, `partition` ordering).
 */
import { startBenchPipeline } from '../tributaryEngine.js';
import { runVariant } from '../variant.js';
import { workloadChain } from './tributaryChain.js';

// the client library: the engine's default (@platformatic/kafka), or kafkajs from tributaryWorkloadKafkajs.ts
const library = process.env.BENCH_TRIBUTARY_LIBRARY === 'kafkajs' ? 'kafkajs' : 'platformatic';

runVariant(library === 'kafkajs' ? 'tributaryWorkloadKafkajs' : 'tributaryWorkload', (args) =>
  startBenchPipeline('bench-workload', args, workloadChain(args.output), { library }),
);
