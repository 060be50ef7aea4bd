/**
 * Variant (b): the same passthrough as a Tributary pipeline — consume, publish to the output topic, commit what the
 * broker acknowledged. `ordering` and `maxInFlight` come from the orchestrator.
 */
import { publish } from '../src/index.js';
import { startBenchPipeline } from './tributaryEngine.js';
import { runVariant } from './variant.js';

runVariant('tributary', (args) =>
  startBenchPipeline('bench-passthrough', args, (records) => records.pipe(publish(args.output))),
);
