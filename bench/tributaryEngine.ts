/**
 * How the Tributary variants start: one pipeline from the orchestrator's arguments (input, group, dead-letter topic,
 * ordering, maxInFlight) with the given chain, in an engine that logs warnings to stderr (stdout carries the result).
 */
import { pino } from 'pino';
import { createEngine, definePipeline, type Engine, type PipelineConfig } from '../src/index.js';
import type { VariantArgs } from './variant.js';

export async function startBenchPipeline(
  name: string,
  args: VariantArgs,
  build: PipelineConfig['build'],
  options: { library?: 'kafkajs' | 'platformatic' } = {},
): Promise<Engine> {
  const pipeline = definePipeline({
    name,
    source: { topics: [args.input], groupId: args.groupId },
    deadLetter: { topic: args.dlq },
    ordering: args.ordering,
    maxInFlight: args.maxInFlight,
    build,
  });
  const engine = createEngine({
    pipelines: [pipeline],
    kafka: { brokers: args.brokers, ...(options.library ? { library: options.library } : {}) },
    logger: pino({ level: 'warn' }, pino.destination(args.logFile ? { dest: args.logFile, mkdir: true } : 2)),
  });
  await engine.start();
  return engine;
}
