/**
 * Variant (d): a Tributary pipeline with `workMs` of simulated asynchronous work per record before publishing.
 * The work stage runs lane by lane (mergeMapByLane + laneOfElement), so `partition` ordering works through one record
 * per partition at a time and `key` ordering one record per key at a time.
 */
import { pino } from 'pino';
import { map, timer } from 'rxjs';
import { createEngine, definePipeline, laneOfElement, mergeMapByLane, publish } from '../src/index.js';
import { runVariant } from './variant.js';

runVariant('orderingWork', async (args) => {
  const pipeline = definePipeline({
    name: `bench-ordering-${args.ordering}`,
    source: { topics: [args.input], groupId: args.groupId },
    deadLetter: { topic: args.dlq },
    ordering: args.ordering,
    maxInFlight: args.maxInFlight,
    build: (records) =>
      records.pipe(
        mergeMapByLane((element) => timer(args.workMs).pipe(map(() => element)), laneOfElement),
        publish(args.output),
      ),
  });
  const engine = createEngine({
    pipelines: [pipeline],
    kafka: { brokers: args.brokers },
    logger: pino({ level: 'warn' }, pino.destination(2)),
  });
  await engine.start();
  return engine;
});
