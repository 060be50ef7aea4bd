/**
 * `tributary topics create` and `tributary lag` against the real broker, called in-process like main.ts calls them.
 * The relay fixture reads its topics from the environment when it is first imported, so this file sets them once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lagCommand } from '../../../src/cli/commands/lag.js';
import { topicsCreateCommand } from '../../../src/cli/commands/topicsCreate.js';
import { bootstrapServers, testKafka, uniqueName } from '../../support/kafka.js';
import { recordedIo } from '../../unit/cli/io.js';

const root = join(import.meta.dirname, '..', '..', '..');
const relayFolder = join('test', 'fixtures', 'pipelines', 'relay');
const names = {
  RELAY_IN: uniqueName('cli-cmd-in'),
  RELAY_OUT: uniqueName('cli-cmd-out'),
  RELAY_DLQ: uniqueName('cli-cmd-dlq'),
  RELAY_GROUP: uniqueName('cli-cmd-group'),
};
const env = () => ({ KAFKA_BROKERS: bootstrapServers().join(','), ...names });
const extra = uniqueName('cli-cmd-extra');
const manyTopics: string[] = [];
/** A working directory without a pipelines/ folder: `topics create --extra` there creates only the extra topics. */
const emptyFolder = mkdtempSync(join(tmpdir(), 'tributary-topics-'));

beforeAll(() => {
  Object.assign(process.env, names);
});

afterAll(async () => {
  for (const name of Object.keys(names)) delete process.env[name];
  const admin = testKafka('tributary-test-cleanup').admin();
  await admin.connect();
  const topics = [names.RELAY_IN, names.RELAY_OUT, names.RELAY_DLQ, extra, ...manyTopics];
  await admin.deleteTopics({ topics }).catch(() => {});
  await admin.disconnect();
  rmSync(emptyFolder, { recursive: true, force: true });
});

describe('tributary topics create', () => {
  it("creates the pipelines' source, output and dead-letter topics, plus --extra, with the partitions asked; twice is harmless", async () => {
    const io = recordedIo(env(), { cwd: root });
    expect(await topicsCreateCommand([relayFolder, '--partitions', '3'], io)).toBe(0);
    expect(io.err).toEqual([]);
    const rows = io.out.slice(1, 4).map((line) => line.split(/\s{2,}/));
    expect(rows).toEqual([
      ['created', names.RELAY_IN, '3', 'json-relay (source)'],
      ['created', names.RELAY_OUT, '3', 'json-relay (output)'],
      ['created', names.RELAY_DLQ, '3', 'json-relay (dead letters)'],
    ]);
    expect(io.out.at(-1)).toBe('3 created, 0 already existed');

    const admin = testKafka('tributary-test-admin').admin();
    await admin.connect();
    try {
      for (const topic of [names.RELAY_IN, names.RELAY_DLQ, names.RELAY_OUT]) {
        expect((await admin.fetchTopicOffsets(topic)).length).toBe(3);
      }
    } finally {
      await admin.disconnect();
    }

    const again = recordedIo(env(), { cwd: root });
    expect(await topicsCreateCommand([relayFolder, '--partitions', '5', '--extra', extra], again)).toBe(0);
    expect(again.out.slice(1, 5).map((line) => line.split(/\s{2,}/).slice(0, 3))).toEqual([
      ['exists', names.RELAY_IN, '3'],
      ['exists', names.RELAY_OUT, '3'],
      ['exists', names.RELAY_DLQ, '3'],
      ['created', extra, '5'],
    ]);
    expect(again.out.at(-1)).toBe('1 created, 3 already existed');
  });

  // On a fresh broker, creating 23 topics once exited 1 with "This server is not the leader for that
  // topic-partition" although every topic had been created: metadata named a leader before it served the partition.
  it('creates many topics at once and returns only when each serves every partition', async () => {
    const many = Array.from({ length: 40 }, (_, i) => uniqueName(`cli-many-${i}`));
    manyTopics.push(...many);
    const io = recordedIo(env(), { cwd: emptyFolder });
    const code = await topicsCreateCommand(['--partitions', '6', '--extra', many.join(',')], io);
    expect(io.err).toEqual([]);
    expect(code).toBe(0);
    expect(io.out.at(-1)).toBe(`${many.length} created, 0 already existed`);
    expect(io.out.slice(1, -1).map((line) => line.split(/\s{2,}/))).toEqual(
      many.map((topic) => ['created', topic, '6', '--extra']),
    );
    // every partition takes a write right away (acks from its leader)
    const producer = testKafka('tributary-test-producer').producer({ allowAutoTopicCreation: false });
    await producer.connect();
    try {
      await producer.sendBatch({
        acks: -1,
        topicMessages: many.map((topic) => ({
          topic,
          messages: Array.from({ length: 6 }, (_, partition) => ({ partition, value: 'x' })),
        })),
      });
    } finally {
      await producer.disconnect();
    }
  }, 180_000);
});

describe('tributary lag', () => {
  it('prints committed offset, end offset and lag per partition for the pipelines and for --group/--topic', async () => {
    // 10 records on each of the 3 partitions, then commits: p0 at 4 (lag 6), p1 at 10 (lag 0), p2 none (10*)
    const producer = testKafka('tributary-test-producer').producer();
    await producer.connect();
    await producer.send({
      topic: names.RELAY_IN,
      acks: -1,
      messages: Array.from({ length: 30 }, (_, i) => ({ value: `v${i}`, partition: i % 3 })),
    });
    await producer.disconnect();
    const admin = testKafka('tributary-test-admin').admin();
    await admin.connect();
    await admin.setOffsets({
      groupId: names.RELAY_GROUP,
      topic: names.RELAY_IN,
      partitions: [
        { partition: 0, offset: '4' },
        { partition: 1, offset: '10' },
      ],
    });
    await admin.disconnect();

    const io = recordedIo(env(), { cwd: root });
    expect(await lagCommand([relayFolder], io)).toBe(0);
    expect(io.err).toEqual([]);
    const g = names.RELAY_GROUP;
    const t = names.RELAY_IN;
    expect(io.out.map((line) => line.trim().split(/\s+/))).toEqual([
      ['GROUP', 'TOPIC', 'PARTITION', 'CURRENT-OFFSET', 'LOG-END-OFFSET', 'LAG'],
      [g, t, '0', '4', '10', '6'],
      [g, t, '1', '10', '10', '0'],
      [g, t, '2', '-', '10', '10*'],
      [''],
      ['total', 'lag', 'of', `${g}:`, '16'],
      ['*', 'no', 'committed', 'offset:', 'the', 'whole', 'retained', 'log', 'counts', 'as', 'lag'],
    ]);

    const json = recordedIo(env(), { cwd: root });
    expect(await lagCommand(['--group', g, '--topic', t, '--json'], json)).toBe(0);
    expect(JSON.parse(json.out.join('\n'))).toEqual([
      { group: g, topic: t, partition: 0, committedOffset: '4', endOffset: '10', lag: '6' },
      { group: g, topic: t, partition: 1, committedOffset: '10', endOffset: '10', lag: '0' },
      { group: g, topic: t, partition: 2, committedOffset: null, endOffset: '10', lag: '10' },
    ]);
  });

  it('exits 1 with one line when a topic does not exist', async () => {
    const io = recordedIo(env(), { cwd: root });
    const missing = uniqueName('cli-cmd-missing');
    expect(await lagCommand(['--group', 'g', '--topic', missing], io)).toBe(1);
    expect(io.err).toEqual([`tributary: topic ${missing} does not exist (asked for group g)`]);
  });
});
