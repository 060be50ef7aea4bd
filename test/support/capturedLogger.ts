/** A pino logger that keeps the engine's warnings and errors, so a fault test can print what the engine said. */
import { Writable } from 'node:stream';
import { type Logger, pino } from 'pino';

export interface LogEntry {
  level: number;
  msg: string;
  /** performance.now() when the line was written. */
  at: number;
}

export interface CapturedLogger {
  readonly logger: Logger;
  readonly entries: LogEntry[];
  /** The distinct messages at warn or above, with how often each came: `3× msg; 1× other`. */
  summary(max?: number): string;
}

export function capturedLogger(): CapturedLogger {
  const entries: LogEntry[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) {
        if (line.trim() === '') continue;
        const entry = JSON.parse(line) as { level?: number; msg?: string };
        entries.push({ level: entry.level ?? 0, msg: entry.msg ?? '', at: performance.now() });
      }
      done();
    },
  });
  return {
    logger: pino({ level: 'warn' }, sink),
    entries,
    summary(max = 8) {
      const counts = new Map<string, number>();
      for (const e of entries) counts.set(e.msg, (counts.get(e.msg) ?? 0) + 1);
      const top = [...counts].sort((a, b) => b[1] - a[1]).slice(0, max);
      return top.map(([msg, count]) => `${count}× ${msg.slice(0, 140)}`).join('; ') || 'none';
    },
  };
}
