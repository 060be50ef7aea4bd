import { describe, expect, it } from 'vitest';
import { integerOption, listOption, wantsHelp } from '../../../src/cli/args.js';
import { resolveCommand, runCli, version } from '../../../src/cli/cli.js';
import { parseDescribeArgs } from '../../../src/cli/commands/describe.js';
import { lagCommand, parseLagArgs } from '../../../src/cli/commands/lag.js';
import { parseRunArgs, runCommand } from '../../../src/cli/commands/run.js';
import { parseTopicsCreateArgs, topicsCreateCommand } from '../../../src/cli/commands/topicsCreate.js';
import { UsageError } from '../../../src/cli/io.js';
import { recordedIo } from './io.js';

describe('run arguments', () => {
  it('takes files and folders as positionals, none by default', () => {
    expect(parseRunArgs([])).toEqual({ paths: [] });
    expect(parseRunArgs(['pipelines/a.ts', 'more/'])).toEqual({ paths: ['pipelines/a.ts', 'more/'] });
  });

  it('refuses unknown options with a usage error', () => {
    expect(() => parseRunArgs(['--port', '1'])).toThrow(UsageError);
    expect(() => parseRunArgs(['--port', '1'])).toThrow("Unknown option '--port'");
  });

  it('prints usage and exits 2 on an unknown option, before reading any configuration', async () => {
    const io = recordedIo({});
    expect(await runCommand(['--nope'], io)).toBe(2);
    expect(io.err).toEqual([
      "tributary run: Unknown option '--nope'",
      'usage: tributary run [files or folders...]   (tributary run --help)',
    ]);
  });
});

describe('describe arguments', () => {
  it('defaults to text, with --mermaid or --json as alternatives', () => {
    expect(parseDescribeArgs([])).toEqual({ paths: [], format: 'text' });
    expect(parseDescribeArgs(['p/', '--mermaid'])).toEqual({ paths: ['p/'], format: 'mermaid' });
    expect(parseDescribeArgs(['--json', 'a.ts', 'b.ts'])).toEqual({ paths: ['a.ts', 'b.ts'], format: 'json' });
  });

  it('refuses both formats at once', () => {
    expect(() => parseDescribeArgs(['--mermaid', '--json'])).toThrow('choose one of --mermaid and --json');
  });
});

describe('topics create arguments', () => {
  it("defaults partitions and replication to the broker's (-1) and takes --extra repeated or comma-separated", () => {
    expect(parseTopicsCreateArgs([])).toEqual({ paths: [], partitions: -1, replicationFactor: -1, extra: [] });
    expect(
      parseTopicsCreateArgs([
        'pipelines/',
        '--partitions',
        '6',
        '--replication-factor=3',
        '--extra',
        'a.out,b.out',
        '--extra',
        ' c.out ',
      ]),
    ).toEqual({ paths: ['pipelines/'], partitions: 6, replicationFactor: 3, extra: ['a.out', 'b.out', 'c.out'] });
  });

  it('refuses counts that are not positive integers', () => {
    expect(() => parseTopicsCreateArgs(['--partitions', '0'])).toThrow(
      '--partitions expects an integer from 1 to 100000, got "0"',
    );
    expect(() => parseTopicsCreateArgs(['--partitions', 'three'])).toThrow('got "three"');
    expect(() => parseTopicsCreateArgs(['--replication-factor', '1.5'])).toThrow('--replication-factor expects');
    expect(() => parseTopicsCreateArgs(['--partitions'])).toThrow("Option '--partitions <value>' argument missing");
    expect(() => parseTopicsCreateArgs(['--partitions', '-1'])).toThrow(
      "Option '--partitions' argument is ambiguous. Did you forget to specify the option argument for '--partitions'?",
    );
  });

  it('refuses --extra names Kafka would refuse', () => {
    expect(() => parseTopicsCreateArgs(['--extra', 'has space'])).toThrow(
      '--extra "has space" is not a Kafka topic name',
    );
    expect(() => parseTopicsCreateArgs(['--extra', '..'])).toThrow('is not a Kafka topic name');
  });

  it('exits 2 with the usage line on bad arguments', async () => {
    const io = recordedIo({ KAFKA_BROKERS: '127.0.0.1:9092' });
    expect(await topicsCreateCommand(['--partitions=-1'], io)).toBe(2);
    expect(io.err[0]).toBe('tributary topics create: --partitions expects an integer from 1 to 100000, got "-1"');
    expect(io.err[1]).toMatch(/^usage: tributary topics create /);
  });
});

describe('lag arguments', () => {
  it('reads the pipelines by default, or one group with its topics', () => {
    expect(parseLagArgs([])).toEqual({ paths: [], group: undefined, topics: [], json: false });
    expect(parseLagArgs(['--group', 'g', '--topic', 'a,b', '--topic', 'c', '--json'])).toEqual({
      paths: [],
      group: 'g',
      topics: ['a', 'b', 'c'],
      json: true,
    });
    expect(parseLagArgs(['pipelines/', '--group', 'g'])).toEqual({
      paths: ['pipelines/'],
      group: 'g',
      topics: [],
      json: false,
    });
  });

  it('refuses --topic without --group, an empty group, and paths together with --group --topic', () => {
    expect(() => parseLagArgs(['--topic', 't'])).toThrow('--topic needs --group');
    expect(() => parseLagArgs(['--group', ' '])).toThrow('--group needs a consumer group id');
    expect(() => parseLagArgs(['p/', '--group', 'g', '--topic', 't'])).toThrow('not both');
  });

  it('exits 2 on bad arguments and does not touch Kafka', async () => {
    const io = recordedIo({ KAFKA_BROKERS: '127.0.0.1:1' });
    expect(await lagCommand(['--topic', 't'], io)).toBe(2);
    expect(io.err).toEqual([
      'tributary lag: --topic needs --group',
      'usage: tributary lag [files or folders...] [--group G --topic T] [--json]   (tributary lag --help)',
    ]);
  });
});

describe('shared option helpers', () => {
  it('finds --help and -h before "--" only', () => {
    expect(wantsHelp(['a', '--help'])).toBe(true);
    expect(wantsHelp(['-h'])).toBe(true);
    expect(wantsHelp(['--', '--help'])).toBe(false);
    expect(wantsHelp(['--helpful'])).toBe(false);
  });

  it('parses bounded integers and comma lists', () => {
    expect(integerOption('n', undefined, 1, 5)).toBeUndefined();
    expect(integerOption('n', ' 5 ', 1, 5)).toBe(5);
    expect(() => integerOption('n', '6', 1, 5)).toThrow('--n expects an integer from 1 to 5, got "6"');
    expect(listOption(['a,,b', '', 'c'])).toEqual(['a', 'b', 'c']);
  });
});

describe('command dispatch', () => {
  it('resolves one- and two-word commands and hands over the rest of argv', () => {
    expect(resolveCommand(['topics', 'create', '--extra', 'x'])?.rest).toEqual(['--extra', 'x']);
    expect(resolveCommand(['describe', '--mermaid'])?.rest).toEqual(['--mermaid']);
    expect(resolveCommand(['dlq', 'replay', '--from', 'x'])?.rest).toEqual(['--from', 'x']);
    expect(resolveCommand(['topics'])).toBeUndefined();
    expect(resolveCommand(['create', 'topics'])).toBeUndefined();
  });

  it('prints the usage and exits 2 for an unknown command', async () => {
    const io = recordedIo();
    expect(await runCli(['deploy'], io)).toBe(2);
    expect(io.err).toEqual([
      'tributary: unknown command "deploy"',
      'usage: tributary <command> [options]   (tributary --help)',
      'commands: run, describe, topics create, lag, dlq replay',
    ]);
    expect(io.out).toEqual([]);
  });

  it('prints the usage on stderr and exits 2 without a command', async () => {
    const io = recordedIo();
    expect(await runCli([], io)).toBe(2);
    expect(io.err[0]).toBe('Usage: tributary <command> [options]');
  });

  it('answers unknown or missing subcommands of topics and dlq with their usage, exit 2', async () => {
    const missing = recordedIo();
    expect(await runCli(['topics'], missing)).toBe(2);
    expect(missing.err).toEqual(['Usage: tributary topics create [files or folders...] [options]']);
    const unknown = recordedIo();
    expect(await runCli(['dlq', 'purge'], unknown)).toBe(2);
    expect(unknown.err).toEqual([
      'tributary dlq: unknown subcommand "purge"',
      'usage: tributary dlq replay --from DLQ_TOPIC [--to TOPIC | --original] [options]',
    ]);
  });

  it('prints help on stdout and exits 0: top level, "help <command>" and "<command> --help"', async () => {
    const top = recordedIo();
    expect(await runCli(['--help'], top)).toBe(0);
    expect(top.out[0]).toBe('Usage: tributary <command> [options]');
    expect(top.out.join('\n')).toContain('topics create');

    for (const [argv, first] of [
      [['run', '--help'], 'Usage: tributary run [files or folders...]'],
      [['describe', '-h'], 'Usage: tributary describe [files or folders...] [--mermaid | --json]'],
      [['topics', 'create', '--help'], 'Usage: tributary topics create [files or folders...] [options]'],
      [['lag', '--help'], 'Usage: tributary lag [files or folders...] [--json]'],
      [['help', 'lag'], 'Usage: tributary lag [files or folders...] [--json]'],
      [['topics', '--help'], 'Usage: tributary topics create [files or folders...] [options]'],
      [['dlq', 'replay', '--help'], 'Usage: tributary dlq replay --from DLQ_TOPIC [--to TOPIC | --original] [options]'],
    ] as const) {
      const io = recordedIo();
      expect(await runCli(argv, io), argv.join(' ')).toBe(0);
      expect(io.out[0], argv.join(' ')).toBe(first);
      expect(io.err).toEqual([]);
    }
  });

  it('prints the package version', async () => {
    const io = recordedIo();
    expect(await runCli(['--version'], io)).toBe(0);
    expect(io.out).toEqual([version()]);
    expect(version()).toMatch(/^\d+\.\d+\.\d+/);
  });
});
