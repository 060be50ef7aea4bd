/**
 * pino's test `sink()` idea: a destination that turns every JSON log line back into an object, so tests assert on
 * what was logged (`expect(sink.lines).toContainEqual(expect.objectContaining({ msg: ... }))`).
 */
import type { DestinationStream, LevelWithSilent, Logger } from 'pino';
import { createLogger } from '../logger.js';

/**
 * One log line as pino wrote it, parsed. `level` is the label (`'info'`, `'warn'`, ...) with the engine's logger
 * configuration ({@link createSinkLogger}), pino's number (30, 40, ...) with a plain `pino({}, sink)`.
 */
export interface LogLine {
  readonly level: string | number;
  readonly msg?: string;
  readonly time?: string;
  readonly [field: string]: unknown;
}

/** A pino destination that keeps every line as an object. */
export interface LogSink extends DestinationStream {
  /** Every line written so far, oldest first (a live array). */
  readonly lines: LogLine[];
  /** The lines at `level` (a label such as `'warn'`, or pino's number). */
  atLevel(level: string | number): LogLine[];
  /** Forgets the lines kept so far. */
  clear(): void;
}

/**
 * Creates a log sink.
 *
 * @example
 * ```ts
 * const sink = logSink();
 * const logger = createSinkLogger(sink, 'debug'); // the engine's configuration; or pino({}, sink)
 * logger.warn({ offset: '7' }, 'dead-lettered');
 * sink.lines[0]; // { level: 'warn', offset: '7', msg: 'dead-lettered', service: 'tributary', ... }
 * ```
 * @returns a destination stream whose `lines` hold the parsed log lines
 */
export function logSink(): LogSink {
  const lines: LogLine[] = [];
  return {
    lines,
    write(chunk: string) {
      for (const line of chunk.split('\n')) {
        if (line.trim() === '') continue;
        try {
          lines.push(JSON.parse(line) as LogLine);
        } catch {
          lines.push({ level: 'unparsed', msg: line });
        }
      }
    },
    atLevel(level: string | number) {
      return lines.filter((line) => line.level === level);
    },
    clear() {
      lines.length = 0;
    },
  };
}

/**
 * A logger configured exactly like the engine's (`createLogger`: level labels, ISO time, redaction of secrets)
 * that writes into `sink`.
 *
 * @param sink where the lines go
 * @param level the minimum level kept. Default `'debug'`.
 */
export function createSinkLogger(sink: LogSink, level: LevelWithSilent = 'debug'): Logger {
  return createLogger({ level, destination: sink, pretty: false });
}
