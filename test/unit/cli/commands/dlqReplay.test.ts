/** `tributary dlq replay` before it reaches a broker: arguments, configuration and help. */
import { describe, expect, it } from 'vitest';
import { dlqReplayCommand } from '../../../../src/cli/commands/dlqReplay.js';
import { recordedIo } from '../io.js';

async function replay(argv: string[]) {
  const io = recordedIo({ KAFKA_BROKERS: '127.0.0.1:1' });
  const code = await dlqReplayCommand(argv, io);
  return { code, out: io.out, err: io.err };
}

describe('tributary dlq replay arguments', () => {
  it('explains bad arguments and configuration with exit code 2, and prints its help', async () => {
    const missing = await replay(['--to', 'orders']);
    expect(missing.code).toBe(2);
    expect(missing.err[0]).toBe('tributary dlq replay: --from DLQ_TOPIC is required');
    expect(missing.err[1]).toMatch(/^usage: tributary dlq replay --from DLQ_TOPIC/);

    const both = await replay(['--from', 'orders.dlq', '--to', 'orders', '--original']);
    expect([both.code, both.err[0]]).toEqual([
      2,
      'tributary dlq replay: give either --to TOPIC or --original, not both',
    ]);
    const loop = await replay(['--from', 'orders.dlq', '--to', 'orders.dlq']);
    expect(loop.code).toBe(2);
    const limit = await replay(['--from', 'orders.dlq', '--limit', '0']);
    expect([limit.code, limit.err[0]]).toEqual([
      2,
      `tributary dlq replay: --limit expects an integer from 1 to ${Number.MAX_SAFE_INTEGER}, got "0"`,
    ]);
    const unknown = await replay(['--from', 'orders.dlq', '--force']);
    expect(unknown.code).toBe(2);
    expect(unknown.err[0]).toMatch(/--force/);

    const noBrokers = await dlqReplayCommand(['--from', 'orders.dlq'], {
      stdout: () => {},
      stderr: (line) => missing.err.push(`config: ${line}`),
      env: {},
    });
    expect(noBrokers).toBe(2);
    expect(missing.err.filter((l) => l.startsWith('config: '))).toEqual([
      'config: tributary: invalid configuration (1 problem)',
      'config:   KAFKA_BROKERS: required, expected comma-separated host:port (e.g. "kafka-1:9092,kafka-2:9092")',
    ]);

    const help = await replay(['--help']);
    expect(help.code).toBe(0);
    expect(help.out[0]).toBe('Usage: tributary dlq replay --from DLQ_TOPIC [--to TOPIC | --original] [options]');
  });
});
