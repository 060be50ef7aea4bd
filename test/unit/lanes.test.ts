import { concatMap, firstValueFrom, from, map, of, Subject, timer, toArray } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { mergeMapByLane } from '../../src/lanes.js';

interface Item {
  lane: string;
  id: number;
}

describe('mergeMapByLane', () => {
  it('runs one lane sequentially and different lanes concurrently (marbles)', () => {
    const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const values: Record<string, Item> = {
        a: { lane: 'x', id: 1 },
        b: { lane: 'x', id: 2 },
        c: { lane: 'y', id: 3 },
      };
      const source = cold('abc|', values);
      // each item takes 3 frames: x1 runs 0–3, x2 waits for it (3–6), y3 runs at once (2–5)
      const result = source.pipe(
        mergeMapByLane(
          (item: Item) => timer(3).pipe(map(() => item.id)),
          (item) => item.lane,
        ),
      );
      expectObservable(result).toBe('---a-b(c|)', { a: 1, b: 3, c: 2 });
      expectSubscriptions(source.subscriptions).toBe('^--!');
    });
  });

  it('keeps per-lane order with promises of random duration', async () => {
    const items = Array.from({ length: 300 }, (_, i) => ({ lane: `l${i % 7}`, id: i }));
    const out = await firstValueFrom(
      from(items).pipe(
        mergeMapByLane(
          (item: Item) => from(new Promise<Item>((done) => setTimeout(() => done(item), Math.random() * 3))),
          (item) => item.lane,
        ),
        toArray(),
      ),
    );
    expect(out).toHaveLength(items.length);
    for (let lane = 0; lane < 7; lane++) {
      const ids = out.filter((i) => i.lane === `l${lane}`).map((i) => i.id);
      expect(ids).toEqual([...ids].sort((a, b) => a - b));
    }
  });

  it('handles long runs of synchronous inner work without growing the stack', async () => {
    const input = new Subject<Item>();
    const seen: number[] = [];
    const sub = input
      .pipe(
        mergeMapByLane(
          (item: Item) => of(item.id),
          (item) => item.lane,
        ),
      )
      .subscribe((id) => seen.push(id));
    for (let i = 0; i < 50_000; i++) input.next({ lane: 'same', id: i });
    sub.unsubscribe();
    expect(seen).toHaveLength(50_000);
  });

  it('completes only after every lane finished', async () => {
    const out = await firstValueFrom(
      from([1, 2, 3]).pipe(
        concatMap((n) => of(n)),
        mergeMapByLane(
          (n: number) => timer(n * 2).pipe(map(() => n)),
          (n) => String(n % 2),
        ),
        toArray(),
      ),
    );
    expect(out.sort()).toEqual([1, 2, 3]);
  });

  it('propagates an error from the work as an Observable error (the runner restarts the pipeline)', async () => {
    const result = firstValueFrom(
      of(1).pipe(
        mergeMapByLane(
          () => {
            throw new Error('boom');
          },
          () => 'l',
        ),
      ),
    );
    await expect(result).rejects.toThrow('boom');
  });
});
