/**
 * The workload as a pipeline module for `tributary run` (contender (a''') runs it with TRIBUTARY_WORKERS): the chain
 * of tributaryChain.ts, its topics, group and maxInFlight from the environment the variant sets.
 */
import { definePipeline } from '../../src/index.js';
import { workloadChain } from './tributaryChain.js';

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (bench/workload/tributaryWorkers.ts sets it)`);
  return value;
}

export default definePipeline({
  name: 'bench-workload',
  source: { topics: [env('BENCH_INPUT')], groupId: env('BENCH_GROUP') },
  deadLetter: { topic: env('BENCH_DLQ') },
  maxInFlight: Number(env('BENCH_MAX_IN_FLIGHT')),
  ordering: env('BENCH_ORDERING') === 'key' ? 'key' : 'partition',
  build: workloadChain(env('BENCH_OUTPUT')),
});
