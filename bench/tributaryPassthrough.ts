/**
 * Variant (b): the same passthrough as a Tributary pipeline — consume, publish to the output topic, commit what the
 * broker acknowledged. `ordering` and `maxInFlight` come from the orchestrator.
 */
import { pino } from 'pino';
import { createEngine, definePipeline, publish } from '../src/index.js';
import { runVariant } from './variant.js';

runVariant('tributary', async (args) => {
  const pipeline = definePipeline({
    name: 'bench-passthrough',
    source: { topics: [args.input], groupId: args.groupId },
    deadLetter: { topic: args.dlq },
    ordering: args.ordering,
    maxInFlight: args.maxInFlight,
    build: (records) => records.pipe(publish(args.output)),
  });
  // warnings to stderr: stdout carries the result line
  const engine = createEngine({
    pipelines: [pipeline],
    kafka: { brokers: args.brokers },
    logger: pino({ level: 'warn' }, pino.destination(2)),
  });
  await engine.start();
  return engine;
});
