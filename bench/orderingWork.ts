/**
 * Variant (d): a Tributary pipeline with `workMs` of simulated asynchronous work per record before publishing.
 * The work stage runs lane by lane (mergeMapByLane + laneOfElement), so `partition` ordering works through one record
 * per partition at a time and `key` ordering one record per key at a time.
 */
import { map, timer } from 'rxjs';
import { laneOfElement, mergeMapByLane, publish } from '../src/index.js';
import { startBenchPipeline } from './tributaryEngine.js';
import { runVariant } from './variant.js';

runVariant('orderingWork', (args) =>
  startBenchPipeline(`bench-ordering-${args.ordering}`, args, (records) =>
    records.pipe(
      mergeMapByLane((element) => timer(args.workMs).pipe(map(() => element)), laneOfElement),
      publish(args.output),
    ),
  ),
);
