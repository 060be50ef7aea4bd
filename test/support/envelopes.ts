/**
 * Building pipeline elements in unit tests, without a broker: envelopes with a recording ticket and a stub
 * PipelineContext that records what stages send and dead-letter.
 */
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import { from, lastValueFrom, type OperatorFunction, toArray } from 'rxjs';
import type {
  Element,
  Envelope,
  FailedEnvelope,
  Outcome,
  PipelineContext,
  RawValue,
  RecordTicket,
  SettledOutcome,
} from '../../src/envelope.js';
import type { OutgoingRecord, RecordHeaders } from '../../src/kafka/ports.js';

/** A ticket that records its outcome; like the engine's, the first `finish` wins. */
export interface RecordingTicket extends RecordTicket {
  /** The winning outcome, once finished. */
  readonly outcome: Outcome | undefined;
  /** Every `finish` call, in order, ignored ones included. */
  readonly calls: readonly Outcome[];
}

export function recordingTicket(): RecordingTicket {
  const calls: Outcome[] = [];
  let outcome: Outcome | undefined;
  let settled: SettledOutcome | undefined;
  return {
    get finished() {
      return outcome !== undefined;
    },
    get outcome() {
      return outcome;
    },
    get settled() {
      return settled;
    },
    abandoned: false,
    calls,
    finish(result: Outcome) {
      calls.push(result);
      if (outcome === undefined) outcome = result;
    },
    settle(result: SettledOutcome) {
      if (outcome === undefined) settled = result;
    },
  };
}

/** A PipelineContext whose `send` and `deadLetter` record their calls and resolve at once. */
export interface RecordingContext extends PipelineContext {
  readonly sent: OutgoingRecord[];
  readonly deadLettered: { element: FailedEnvelope; topic: string | undefined }[];
  /** Stage names, one per retry scheduled. */
  readonly retries: string[];
}

export interface TestContextOptions {
  pipeline?: string;
  groupId?: string;
  deadLetterTopic?: string;
  /** Default: a pino logger at level 'silent'. */
  logger?: Logger;
}

export function testContext(options: TestContextOptions = {}): RecordingContext {
  const sent: OutgoingRecord[] = [];
  const deadLettered: { element: FailedEnvelope; topic: string | undefined }[] = [];
  const retries: string[] = [];
  return {
    pipeline: options.pipeline ?? 'test-pipeline',
    groupId: options.groupId ?? 'test-group',
    deadLetterTopic: options.deadLetterTopic ?? 'test.dlq',
    logger: options.logger ?? pino({ level: 'silent' }),
    sent,
    deadLettered,
    retries,
    async send(record) {
      sent.push(record);
    },
    enqueue(record, done) {
      sent.push(record);
      queueMicrotask(() => done());
    },
    async deadLetter(element, topic) {
      deadLettered.push({ element, topic });
      element.ticket.finish('dead_lettered');
    },
    recordRetry(stage) {
      retries.push(stage);
    },
  };
}

/** A pino logger whose JSON lines are parsed back into objects (pino's test `sink()` idea). */
export function captureLogger(level: pino.LevelWithSilent = 'debug'): {
  logger: Logger;
  lines: Record<string, unknown>[];
} {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      callback();
    },
  });
  return { logger: pino({ level }, stream), lines };
}

export interface TestEnvelopeOptions {
  topic?: string;
  partition?: number;
  /** Default: a counter, so envelopes built one after another have increasing offsets. */
  offset?: bigint | number;
  key?: Buffer | string | null;
  /** Default `<topic>-<partition>` (the engine's `partition` ordering). */
  lane?: string;
  headers?: RecordHeaders;
  timestamp?: string;
  /** The original bytes. Default: the value when it is a Buffer or null, else its JSON. */
  raw?: Buffer | null;
  attempts?: number;
  correlationId?: string;
  /** Default: a new {@link testContext}. */
  context?: RecordingContext;
}

export type TestEnvelope<T> = Envelope<T> & { readonly ticket: RecordingTicket; readonly context: RecordingContext };

let nextOffset = 0n;

export function testEnvelope<T>(value: T, options: TestEnvelopeOptions = {}): TestEnvelope<T> {
  const context = options.context ?? testContext();
  const topic = options.topic ?? 'test.topic';
  const partition = options.partition ?? 0;
  const offset = options.offset === undefined ? nextOffset++ : BigInt(options.offset);
  const key = typeof options.key === 'string' ? Buffer.from(options.key) : (options.key ?? null);
  const raw =
    options.raw !== undefined
      ? options.raw
      : Buffer.isBuffer(value) || value === null
        ? (value as Buffer | null)
        : Buffer.from(JSON.stringify(value) ?? '');
  return {
    ok: true,
    value,
    attempts: options.attempts ?? 0,
    ticket: recordingTicket(),
    context,
    origin: {
      pipeline: context.pipeline,
      groupId: context.groupId,
      topic,
      partition,
      offset,
      key,
      headers: options.headers ?? {},
      timestamp: options.timestamp ?? '1700000000000',
      raw,
      correlationId: options.correlationId ?? `${topic}-${partition}-${offset}`,
      lane: options.lane ?? `${topic}-${partition}`,
    },
  };
}

/** An envelope as the source emits it: the raw value bytes (a string is UTF-8 encoded). */
export function rawEnvelope(value: Buffer | string | null, options: TestEnvelopeOptions = {}): TestEnvelope<RawValue> {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  return testEnvelope<RawValue>(bytes, { ...options, raw: bytes });
}

/** Runs `elements` through `operator` and collects everything it emits (the source completes after the last one). */
export function runOperator<I, O>(elements: readonly I[], operator: OperatorFunction<I, O>): Promise<O[]> {
  return lastValueFrom(from(elements).pipe(operator, toArray()));
}

/** Narrows an element to a failed one, failing the test otherwise. */
export function expectFailed(element: Element<unknown> | undefined): FailedEnvelope {
  if (element === undefined || element.ok) {
    throw new Error(`expected a failed element, got ${element === undefined ? 'nothing' : 'an ok element'}`);
  }
  return element;
}

/** Narrows an element to an ok one, failing the test otherwise. */
export function expectOk<T>(element: Element<T> | undefined): Envelope<T> {
  if (element === undefined || !element.ok) {
    throw new Error(
      `expected an ok element, got ${element === undefined ? 'nothing' : `a failure: ${element.error.message}`}`,
    );
  }
  return element;
}
