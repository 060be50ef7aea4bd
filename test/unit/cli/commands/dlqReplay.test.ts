/** `tributary dlq replay` before it reaches a broker: arguments, configuration and help. */
import { describe, expect, it } from 'vitest';
import {
  defaultReplayGroup,
  dlqReplayCommand,
  parseDlqReplayArgs,
  selectedBy,
} from '../../../../src/cli/commands/dlqReplay.js';
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

describe('tributary dlq replay filters', () => {
  it('parses --stage and --error-code lists; each filter has its own default progress group', () => {
    const args = parseDlqReplayArgs([
      '--from',
      'orders.dlq',
      '--stage',
      'orders.pricing,orders.tax',
      '--stage',
      'orders.pricing',
      '--error-code',
      'TRIBUTARY_ERR_TIMEOUT',
    ]);
    expect([args.stages, args.errorCodes]).toEqual([['orders.pricing', 'orders.tax'], ['TRIBUTARY_ERR_TIMEOUT']]);
    expect(args.group).toBe(
      'tributary-dlq-replay-orders.dlq-stage-orders.pricing,orders.tax-error-code-TRIBUTARY_ERR_TIMEOUT',
    );
    expect(defaultReplayGroup('orders.dlq', { stages: ['b', 'a'] })).toBe('tributary-dlq-replay-orders.dlq-stage-a,b');
    const plain = parseDlqReplayArgs(['--from', 'orders.dlq']);
    expect([plain.stages, plain.errorCodes, plain.group]).toEqual([[], [], 'tributary-dlq-replay-orders.dlq']);
    expect(parseDlqReplayArgs(['--from', 'd', '--stage', 's', '--group', 'mine']).group).toBe('mine');
  });

  it('selects a record when its stage and its error code are among those asked for', () => {
    const record = (stage?: string, code?: string) => ({
      headers: {
        ...(stage === undefined ? {} : { 'tributary-stage': Buffer.from(stage) }),
        ...(code === undefined ? {} : { 'tributary-error-code': Buffer.from(code) }),
      },
    });
    const pricing = record('orders.pricing', 'TRIBUTARY_ERR_PROCESSING');
    const poison = record('orders.validate', 'TRIBUTARY_ERR_VALIDATION');
    expect(selectedBy({}, poison)).toBe(true);
    expect(selectedBy({ stages: ['orders.pricing'] }, pricing)).toBe(true);
    expect(selectedBy({ stages: ['orders.pricing'] }, poison)).toBe(false);
    expect(selectedBy({ errorCodes: ['TRIBUTARY_ERR_VALIDATION', 'TRIBUTARY_ERR_PARSE'] }, poison)).toBe(true);
    expect(selectedBy({ stages: ['orders.pricing'], errorCodes: ['TRIBUTARY_ERR_TIMEOUT'] }, pricing)).toBe(false);
    expect(selectedBy({ stages: ['orders.pricing'] }, record())).toBe(false);
  });

  it('refuses an empty filter with exit 2', async () => {
    const empty = await replay(['--from', 'orders.dlq', '--stage', ',']);
    expect([empty.code, empty.err[0]]).toEqual([2, 'tributary dlq replay: --stage needs a stage name']);
    const code = await replay(['--from', 'orders.dlq', '--error-code', '']);
    expect(code.code).toBe(2);
    expect(code.err[0]).toMatch(/^tributary dlq replay: --error-code needs an error code/);
  });
});
