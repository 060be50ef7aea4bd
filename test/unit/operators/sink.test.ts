import { map, type Observable, tap } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { sink } from '../../../operators/sink.js';
import { type Element, failed } from '../../../src/envelope.js';
import { TributaryError } from '../../../src/errors.js';
import { expectFailed, expectOk, runOperator, type TestEnvelope, testEnvelope } from '../../support/envelopes.js';
import { summarize, testScheduler } from '../../support/marbles.js';

describe('sink', () => {
  it("settles each record as 'sunk' only after the effect resolved, and emits it unfinished", async () => {
    const events: string[] = [];
    const input = testEnvelope({ videoId: 'v1', url: 'https://cdn/v1.mp4' });
    const rows = new Map<string, string>();
    const outputs = await runOperator(
      [input],
      sink(async (value: { videoId: string; url: string }) => {
        events.push(`start settled=${input.ticket.settled}`);
        await new Promise((resolve) => setTimeout(resolve, 5));
        rows.set(value.videoId, value.url);
        events.push('written');
      }),
    );
    events.push(`settled=${input.ticket.settled}`);
    expect(events).toEqual(['start settled=undefined', 'written', 'settled=sunk']);
    expect(rows.get('v1')).toBe('https://cdn/v1.mp4');
    const ok = expectOk(outputs[0]);
    expect(ok.value).toEqual(input.value);
    expect(ok.attempts).toBe(1);
    // the end of the chain finishes it: a later stage may still fail it
    expect(input.ticket.calls).toEqual([]);
  });

  it('retries like retryWithBackoff, then settles', async () => {
    let calls = 0;
    const retried: number[] = [];
    const input = testEnvelope(1);
    const [output] = await runOperator(
      [input],
      sink(
        async () => {
          calls += 1;
          if (calls < 3) throw new Error('db connection reset');
        },
        { initialDelayMs: 1, onRetry: (_e, attempt) => retried.push(attempt) },
      ),
    );
    expect(calls).toBe(3);
    expect(retried).toEqual([1, 2]);
    expect(expectOk(output).attempts).toBe(3);
    expect(input.ticket.settled).toBe('sunk');
  });

  it('fails for good without settling or finishing: the dead-letter stage finishes the record', async () => {
    const input = testEnvelope(1, { offset: 77 });
    const [output] = await runOperator(
      [input],
      sink(
        async () => {
          throw new Error('constraint violation');
        },
        { attempts: 2, initialDelayMs: 1, name: 'videos.update' },
      ),
    );
    const failure = expectFailed(output);
    expect(failure.stage).toBe('videos.update');
    expect(failure.error.code).toBe('TRIBUTARY_ERR_PROCESSING');
    expect(failure.error.message).toBe('failed after 2 attempts: constraint violation');
    expect(failure.attempts).toBe(2);
    expect(input.ticket.settled).toBeUndefined();
    expect(input.ticket.finished).toBe(false);
  });

  it("uses the stage name 'sink' by default", async () => {
    const [output] = await runOperator(
      [testEnvelope(1)],
      sink(
        () => {
          throw new TributaryError('TRIBUTARY_ERR_VALIDATION', 'row rejected');
        },
        { initialDelayMs: 1 },
      ),
    );
    const failure = expectFailed(output);
    expect(failure.stage).toBe('sink');
    expect(failure.attempts).toBe(1);
  });

  it('keeps lane order and runs lanes concurrently (synchronous effect, TestScheduler)', () => {
    const a = testEnvelope(1, { offset: 1, lane: 'p0' });
    const b = testEnvelope(2, { offset: 2, lane: 'p0' });
    const c = testEnvelope(3, { offset: 3, lane: 'p1' });
    const written: number[] = [];
    let failOnce = true;
    testScheduler().run(({ cold, expectObservable }) => {
      const operator = sink(
        (value: number) => {
          if (value === 1 && failOnce) {
            failOnce = false;
            throw new Error('transient');
          }
          written.push(value);
        },
        { jitter: 'none', initialDelayMs: 10 },
      );
      expectObservable(cold<Element<number>>('abc|', { a, b, c }).pipe(operator, map(summarize))).toBe(
        '--C 7ms (AB|)',
        { A: 'ok 1 1 x2', B: 'ok 2 2 x1', C: 'ok 3 3 x1' },
      );
    });
    expect(written).toEqual([3, 1, 2]);
    expect([a, b, c].map((el) => el.ticket.settled)).toEqual(['sunk', 'sunk', 'sunk']);
  });

  it('passes failed elements through without running the effect or finishing them', async () => {
    let calls = 0;
    const source = testEnvelope(1);
    const earlier = failed(source, 'validate', new TributaryError('TRIBUTARY_ERR_VALIDATION', 'bad'));
    const [output] = await runOperator(
      [earlier],
      sink(() => {
        calls += 1;
      }),
    );
    expect(output).toBe(earlier);
    expect(calls).toBe(0);
    expect(source.ticket.settled).toBeUndefined();
    expect(source.ticket.finished).toBe(false);
  });

  it('lets a later stage fail the record: it leaves the chain failed, not finished', async () => {
    const input: TestEnvelope<number> = testEnvelope(1);
    const [output] = await runOperator([input], (records: Observable<Element<number>>) =>
      records.pipe(
        sink(() => {}),
        map((el) => failed(el, 'publish', new TributaryError('TRIBUTARY_ERR_PUBLISH', 'refused'))),
      ),
    );
    expect(expectFailed(output).stage).toBe('publish');
    expect(input.ticket.settled).toBe('sunk');
    expect(input.ticket.finished).toBe(false); // so the end of the chain dead-letters it
  });

  it('lets a later effect settle the record again: the last settled outcome is what it finishes with', async () => {
    const input: TestEnvelope<number> = testEnvelope(1);
    await runOperator([input], (records: Observable<Element<number>>) =>
      records.pipe(
        sink(() => {}),
        tap((el) => el.ticket.settle('published')),
      ),
    );
    expect(input.ticket.settled).toBe('published');
    expect(input.ticket.calls).toEqual([]);
  });

  it('rejects invalid options naming sink', () => {
    expect(() => sink(() => {}, { attempts: -1 })).toThrowError(/^sink: invalid options: attempts/);
  });
});
