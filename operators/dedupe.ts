import { catchError, defer, EMPTY, map, mergeMap, type Observable, type OperatorFunction, of } from 'rxjs';
import * as z from 'zod';
import { type Element, type Envelope, type Outcome, observedTicket, type RecordTicket } from '../src/envelope.js';
import { errorMessage } from '../src/errors.js';
import { laneOfElement, mergeMapByLane } from '../src/lanes.js';
import { recordBindings } from '../src/logger.js';
import { stageNameSchema } from '../src/names.js';
import { describeStage } from '../src/runtime/stageInfo.js';
import { failAt } from './internal/failure.js';
import { checkOptions, functionSchema, TS_TYPE } from './internal/options.js';
import { memoryDedupeStore } from './memoryDedupeStore.js';

/** Where {@link dedupe} keeps the ids of records already processed. Implementations: memory, Redis. */
export interface DedupeStore {
  /** Whether `id` was remembered and has not expired. */
  seen(id: string): Promise<boolean>;
  /** Remembers `id` for `ttlMs` milliseconds (replacing an earlier expiry). */
  remember(id: string, ttlMs: number): Promise<void>;
}

/** Options of {@link dedupe}. */
export interface DedupeOptions<T> {
  /** The record's idempotency id (e.g. a message-id header or `value.id`); `undefined` = never a duplicate. Required. */
  id: (element: Envelope<T>) => string | undefined;
  /** How long an id is remembered after its record finished, in milliseconds. Required. */
  ttlMs: number;
  /** Where ids are kept. Default: a new {@link memoryDedupeStore} (this process only; use Redis across instances). */
  store?: DedupeStore;
  /** Stage name (`[A-Za-z0-9._-]`): metric label, log binding, `tributary-stage` header. Default `'dedupe'`. */
  name?: string;
  /**
   * When the store cannot answer `seen`: `'process'` handles the record as new (logged; a duplicate is preferred to
   * a loss) or `'fail'` turns it into a failed element (TRIBUTARY_ERR_PROCESSING). Default `'process'`.
   */
  onStoreError?: 'process' | 'fail';
}

/** The runtime check and reference documentation of {@link DedupeOptions}. */
export const dedupeOptionsSchema = z
  .strictObject({
    id: functionSchema<(element: Envelope<unknown>) => string | undefined>(
      '(element) => string | undefined',
      "The record's idempotency id (a message-id header, value.id); undefined means never a duplicate. Required.",
    ),
    ttlMs: z
      .number()
      .int()
      .positive()
      .describe('How long an id is remembered after its record finished, in milliseconds. Required.'),
    store: z
      .custom<DedupeStore>(
        (value) =>
          typeof value === 'object' &&
          value !== null &&
          typeof (value as DedupeStore).seen === 'function' &&
          typeof (value as DedupeStore).remember === 'function',
        { message: 'expected a DedupeStore ({ seen(id), remember(id, ttlMs) })' },
      )
      .meta({
        description: 'Where ids are kept (memoryDedupeStore, redisDedupeStore). Default: a new in-memory store.',
        [TS_TYPE]: 'DedupeStore',
      })
      .optional(),
    name: stageNameSchema.optional(),
    onStoreError: z
      .enum(['process', 'fail'])
      .optional()
      .describe("When the store cannot answer: 'process' the record as new (logged) or 'fail' it. Default 'process'."),
  })
  .describe('Options of dedupe(): drop records whose id was already processed.');

/** Outcomes after which a redelivery of the id has nothing left to do. */
const SUCCESS: ReadonlySet<Outcome> = new Set<Outcome>(['published', 'sunk', 'filtered']);

/**
 * Drops records whose idempotency id was already processed; remembers an id only once its record succeeded.
 *
 * <span class="informal">Like `distinct` by id with a TTL, kept in a store, and safe for at-least-once.</span>
 *
 * For each ok element with an id, asks the store whether the id was seen. If so, the record finishes as `filtered`
 * and is dropped. If not, the element is emitted with a wrapped ticket: when the record later finishes as
 * `published`, `sunk` or `filtered` (the first finish), the id is remembered for `ttlMs` (fire-and-forget; a store
 * error is logged). An id is never stored before its record finished, so a crash or a failure in between never
 * causes a redelivery to be dropped. A copy that arrives while the first copy is still in flight in this process is
 * dropped too (`filtered`); if that first copy then fails it goes to the dead-letter topic alone — replay it from
 * there. "In flight" means the first copy is unfinished **and its ticket is not abandoned**: once the first copy's
 * partition was taken from this consumer (a rebalance), its outcome can no longer be committed by this run, so a copy
 * redelivered after the partition came back is processed as new (a duplicate is preferred to a loss) — dropping it
 * would let the new owner commit past a record that has no outcome. An abandoned copy's id is forgotten when a new
 * copy of it arrives, or swept when the set grows. The check runs per ordering lane, in order. Failed input elements
 * and elements without an id pass through.
 *
 * ```text
 * --a--b--a'--c--|      a' has a's id; a was published before a' arrived
 *   dedupe({ id: (el) => el.value.id, ttlMs: 86_400_000 })
 * --a--b------c--|      a' finishes as 'filtered'
 * ```
 *
 * @example
 * ```ts
 * records.pipe(
 *   parseJson<ScrapeTask>(),
 *   dedupe({ id: (el) => el.value.messageId, ttlMs: 24 * 3600_000, store: redisDedupeStore({ client: redis }) }),
 *   retryWithBackoff(scrape),
 *   publish('scraped-data'),
 * );
 * ```
 * @see memoryDedupeStore
 * @see redisDedupeStore
 * @param options id extractor, TTL, store, stage name, store-error policy
 * @returns an operator that emits first-time records (and failed ones)
 */
export function dedupe<T>(options: DedupeOptions<T>): OperatorFunction<Element<T>, Element<T>> {
  checkOptions('dedupe', dedupeOptionsSchema, options);
  const { id: idOf, ttlMs, store = memoryDedupeStore(), name = 'dedupe', onStoreError = 'process' } = options;

  const logContext = (element: Element<T>, id: string) => ({
    stage: name,
    ...recordBindings(element.origin),
    dedupeId: id,
  });

  const remember = (element: Envelope<T>, id: string) => {
    let pending: Promise<void>;
    try {
      pending = Promise.resolve(store.remember(id, ttlMs));
    } catch (error) {
      pending = Promise.reject(error);
    }
    pending.catch((error: unknown) => {
      element.context.logger.warn(
        { ...logContext(element, id), err: error },
        'dedupe: could not remember the id of a finished record; a redelivery would be processed again',
      );
    });
  };

  /** The element with a ticket that remembers `id` when the record first finishes successfully. */
  const rememberingOnSuccess = (element: Envelope<T>, id: string, inFlight: InFlightIds): Envelope<T> => {
    const inner = element.ticket;
    const ticket = observedTicket(inner, (outcome) => {
      inFlight.release(id, inner);
      if (SUCCESS.has(outcome)) remember(element, id);
    });
    return { ...element, ticket };
  };

  const check = (element: Envelope<T>, inFlight: InFlightIds): Observable<Element<T>> => {
    let id: string | undefined;
    try {
      id = idOf(element);
    } catch (error) {
      return of(
        failAt(element, name, 'TRIBUTARY_ERR_PROCESSING', `id() threw: ${errorMessage(error)}`, {
          cause: error,
          retriable: false,
        }),
      );
    }
    if (id === undefined) return of(element);
    const key = id;
    const ticket = element.ticket;
    const earlier = inFlight.claim(key, ticket);
    if (earlier === 'live') {
      ticket.finish('filtered');
      element.context.logger.debug(logContext(element, key), 'dedupe: duplicate of a record still in flight dropped');
      return EMPTY;
    }
    if (earlier === 'abandoned') {
      element.context.logger.debug(
        logContext(element, key),
        "dedupe: the first copy's partition was revoked before it finished; processing this copy as new",
      );
    }
    return defer(() => store.seen(key)).pipe(
      map((seen) => ({ seen })),
      catchError((error: unknown) => {
        if (onStoreError === 'fail') {
          return of({
            failure: failAt(element, name, 'TRIBUTARY_ERR_PROCESSING', `dedupe store failed: ${errorMessage(error)}`, {
              cause: error,
            }),
          });
        }
        element.context.logger.warn(
          { ...logContext(element, key), err: error },
          'dedupe: store failed; processing the record as new',
        );
        return of({ seen: false });
      }),
      mergeMap((answer): Observable<Element<T>> => {
        if ('failure' in answer) {
          inFlight.release(key, ticket);
          return of(answer.failure);
        }
        if (!answer.seen) return of(rememberingOnSuccess(element, key, inFlight));
        inFlight.release(key, ticket);
        element.ticket.finish('filtered');
        element.context.logger.debug(logContext(element, key), 'dedupe: duplicate dropped');
        return EMPTY;
      }),
    );
  };

  // Ids of records that passed this stage and have not finished yet — a second copy meanwhile is a duplicate too.
  // One set per subscription: a restarted pipeline (new subscription) must not drop redeliveries of records whose
  // first copy died with the previous run.
  const operator: OperatorFunction<Element<T>, Element<T>> = (source) =>
    defer(() => {
      const inFlight = new InFlightIds();
      return source.pipe(
        mergeMapByLane((element: Element<T>) => (element.ok ? check(element, inFlight) : of(element)), laneOfElement),
      );
    });
  return describeStage(operator, { name, kind: 'dedupe' });
}

/** Fewest entries before {@link InFlightIds} sweeps out abandoned ones. */
const SWEEP_FLOOR = 1024;

/**
 * The ids whose first copy passed dedupe and has not finished, each with that copy's ticket. An entry counts only
 * while its ticket is neither finished nor abandoned: a copy whose partition was revoked can no longer have its
 * outcome committed here, so it must not stand in for the redelivered copy the partition's next owner receives.
 */
class InFlightIds {
  readonly #byId = new Map<string, RecordTicket>();
  #sweepAt = SWEEP_FLOOR;

  /**
   * Claims `id` for `ticket` unless a live copy holds it. Returns `'live'` (claim refused: a duplicate), or what held
   * it before: `'abandoned'` (replaced) or `'none'`.
   */
  claim(id: string, ticket: RecordTicket): 'live' | 'abandoned' | 'none' {
    const holder = this.#byId.get(id);
    if (holder !== undefined && !holder.finished && !holder.abandoned) return 'live';
    this.#byId.set(id, ticket);
    if (this.#byId.size >= this.#sweepAt) this.#sweep();
    // a finished holder was released by its own finish (or is about to be): only an abandoned one is news
    return holder !== undefined && !holder.finished ? 'abandoned' : 'none';
  }

  /** Forgets `id` if `ticket` still holds it (a later copy may have replaced an abandoned holder). */
  release(id: string, ticket: RecordTicket): void {
    if (this.#byId.get(id) === ticket) this.#byId.delete(id);
  }

  /**
   * Drops entries whose copy was abandoned or finished: an abandoned copy may never finish (a call that hangs) and
   * its id may never come back here, so without this the map would keep it for as long as the subscription lives.
   * Amortized: the next sweep waits until the map has doubled.
   */
  #sweep(): void {
    for (const [id, holder] of this.#byId) if (holder.finished || holder.abandoned) this.#byId.delete(id);
    this.#sweepAt = Math.max(SWEEP_FLOOR, 2 * this.#byId.size);
  }
}
