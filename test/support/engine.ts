/** Runs engines against the test broker; every engine is aborted when its test finishes (if not stopped). */
import { pino } from 'pino';
import { onTestFinished } from 'vitest';
import { createEngine, type Engine, type EngineOptions } from '../../src/index.js';
import { bootstrapServers } from './kafka.js';
import { testKafkaLibrary } from './testClient.js';

export const testLogger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'warn' }, pino.destination(2));

export function testEngine(options: Omit<EngineOptions, 'kafka' | 'logger'> & Partial<EngineOptions>): Engine {
  const engine = createEngine({
    kafka: { brokers: bootstrapServers(), clientId: 'tributary-test-engine', library: testKafkaLibrary() },
    logger: testLogger,
    ...options,
  });
  onTestFinished(() => engine.abort().catch(() => {}));
  return engine;
}

/** Polls `check` every 100 ms until it returns true or `timeoutMs` passes (then throws with `what`). */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((done) => setTimeout(done, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
