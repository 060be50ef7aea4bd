/**
 * Consumer lag per partition, read from the broker: high watermark − the group's committed offset. Computed on
 * demand (at scrape time) for the partitions each pipeline currently owns, so it stays right for paused and idle
 * partitions, which consumption-side numbers would freeze. Results are cached briefly so frequent scrapes do not
 * hammer the brokers, and a failing broker call never throws: the last known values are kept and the failure is
 * reported to the caller.
 */
import type { AdminPort, TopicPartition } from '../src/kafka/ports.js';

/** The two admin calls lag needs; an `AdminPort` fits as is. */
export type LagOffsetsSource = Pick<AdminPort, 'endOffsets' | 'committedOffsets'>;

export interface LagSample {
  readonly pipeline: string;
  readonly group: string;
  readonly topic: string;
  readonly partition: number;
  readonly lag: bigint;
}

export interface LagFailure {
  readonly pipeline: string;
  readonly group: string;
  readonly error: unknown;
}

export interface LagReading {
  readonly samples: readonly LagSample[];
  /** Failures of the refresh this reading came from; empty when the reading was served from the cache. */
  readonly failures: readonly LagFailure[];
}

export interface LagTrackerOptions {
  /** How long a reading is reused before the broker is asked again. Default 2000 ms. */
  cacheMs?: number;
  /** How long one broker call may take before it counts as failed. Default 3000 ms. */
  timeoutMs?: number;
  /** Where offsets come from; can be set later with `setSource`. Without one, readings are empty. */
  source?: LagOffsetsSource;
  /** Clock in milliseconds. Default `Date.now`. */
  now?: () => number;
}

export interface LagTracker {
  /** Records the partitions `pipeline` now owns (an empty list forgets the pipeline). */
  assign(pipeline: string, group: string, assignment: readonly TopicPartition[]): void;
  setSource(source: LagOffsetsSource | undefined): void;
  /** Current lag of every assigned partition; never rejects. */
  read(): Promise<LagReading>;
}

interface Ownership {
  readonly group: string;
  readonly assignment: readonly TopicPartition[];
}

const EMPTY: LagReading = { samples: [], failures: [] };

function sampleKey(pipeline: string, topic: string, partition: number): string {
  return `${pipeline}\u0000${topic}\u0000${partition}`;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
    timer.unref?.();
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

function settle<T>(call: () => Promise<T>, timeoutMs: number, what: string): Promise<Settled<T>> {
  let promise: Promise<T>;
  try {
    promise = call();
  } catch (error) {
    return Promise.resolve({ ok: false, error });
  }
  return withTimeout(promise, timeoutMs, what).then(
    (value) => ({ ok: true, value }),
    (error: unknown) => ({ ok: false, error }),
  );
}

/**
 * Creates a lag tracker. `read()` asks the source, per topic, for end offsets and, per group and topic, for committed
 * offsets of the assigned partitions. A partition without a committed offset counts its whole retained log (high −
 * low) as lag: that is where a consumer starting from the earliest offset resumes.
 */
export function createLagTracker(options: LagTrackerOptions = {}): LagTracker {
  const { cacheMs = 2_000, timeoutMs = 3_000, now = Date.now } = options;
  let source = options.source;
  const owners = new Map<string, Ownership>();
  let version = 0;
  let cached: { at: number; version: number; samples: readonly LagSample[] } | undefined;
  let pending: Promise<LagReading> | undefined;
  /** Last good sample per partition, reused while the broker cannot answer. */
  const lastGood = new Map<string, LagSample>();

  async function refresh(): Promise<LagReading> {
    const current = source;
    if (current === undefined || owners.size === 0) return EMPTY;
    const startedVersion = version;

    const topics = new Set<string>();
    const groupTopics = new Map<string, { group: string; topic: string }>();
    for (const { group, assignment } of owners.values()) {
      for (const { topic } of assignment) {
        topics.add(topic);
        groupTopics.set(`${group}\u0000${topic}`, { group, topic });
      }
    }

    const endOffsets = new Map<string, Settled<Map<number, { low: bigint; high: bigint }>>>();
    const committed = new Map<string, Settled<Map<number, bigint>>>();
    await Promise.all([
      ...[...topics].map(async (topic) => {
        const result = await settle(() => current.endOffsets(topic), timeoutMs, `end offsets of ${topic}`);
        endOffsets.set(
          topic,
          result.ok
            ? { ok: true, value: new Map(result.value.map((p) => [p.partition, { low: p.low, high: p.high }])) }
            : result,
        );
      }),
      ...[...groupTopics].map(async ([key, { group, topic }]) => {
        committed.set(
          key,
          await settle(
            () => current.committedOffsets(group, topic),
            timeoutMs,
            `committed offsets of ${group} on ${topic}`,
          ),
        );
      }),
    ]);

    const samples: LagSample[] = [];
    const failures: LagFailure[] = [];
    for (const [pipeline, { group, assignment }] of owners) {
      let failure: { error: unknown } | undefined;
      for (const { topic, partition } of assignment) {
        const key = sampleKey(pipeline, topic, partition);
        const ends = endOffsets.get(topic);
        const commits = committed.get(`${group}\u0000${topic}`);
        if (ends === undefined || commits === undefined || !ends.ok || !commits.ok) {
          // Undefined: assigned while this refresh ran; the next one asks for it.
          if (ends?.ok === false) failure ??= { error: ends.error };
          else if (commits?.ok === false) failure ??= { error: commits.error };
          const previous = lastGood.get(key);
          if (previous !== undefined) samples.push(previous);
          continue;
        }
        const end = ends.value.get(partition);
        if (end === undefined) continue; // the broker does not know the partition (topic deleted or shrunk)
        const position = commits.value.get(partition) ?? end.low;
        const lag = end.high > position ? end.high - position : 0n;
        const sample: LagSample = { pipeline, group, topic, partition, lag };
        lastGood.set(key, sample);
        samples.push(sample);
      }
      if (failure !== undefined) failures.push({ pipeline, group, error: failure.error });
    }

    cached = { at: now(), version: startedVersion, samples };
    return { samples, failures };
  }

  return {
    assign(pipeline, group, assignment) {
      if (assignment.length === 0) owners.delete(pipeline);
      else owners.set(pipeline, { group, assignment: [...assignment] });
      const keep = new Set<string>();
      for (const [name, owner] of owners) {
        for (const { topic, partition } of owner.assignment) keep.add(sampleKey(name, topic, partition));
      }
      for (const key of lastGood.keys()) if (!keep.has(key)) lastGood.delete(key);
      version += 1;
    },
    setSource(next) {
      source = next;
      cached = undefined;
    },
    read() {
      if (cached !== undefined && cached.version === version && now() - cached.at < cacheMs) {
        return Promise.resolve({ samples: cached.samples, failures: [] });
      }
      if (pending === undefined) {
        pending = refresh()
          .catch((): LagReading => EMPTY)
          .finally(() => {
            pending = undefined;
          });
      }
      return pending;
    },
  };
}
