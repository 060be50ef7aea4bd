import { connect, filter, map, merge, type Observable, type OperatorFunction } from 'rxjs';
import * as z from 'zod';
import type { Element, Envelope } from '../src/envelope.js';
import { errorMessage, TributaryError } from '../src/errors.js';
import { isStageName, isTopicName, stageNameSchema } from '../src/names.js';
import { describeStage } from '../src/runtime/stageInfo.js';
import { failAt } from './internal/failure.js';
import { checkOptions } from './internal/options.js';
import { publish } from './publish.js';

/** Where {@link route} sends one kind of element: a topic to publish to, or an operator chain to run. */
export type RouteTarget<T> = string | OperatorFunction<Element<T>, Element<unknown>>;

/** The routes of {@link route}: route name (what the selector returns) → target. */
export type RouteTable<T> = Readonly<Record<string, RouteTarget<T>>>;

/** The value type {@link route} emits: each chain's output value, and `T` for topic routes (published as is). */
export type RouteOutput<T, R> = {
  [K in keyof R]: R[K] extends OperatorFunction<Element<T>, Element<infer U>> ? U : T;
}[keyof R];

/** Options of {@link route}. */
export interface RouteOptions<K extends string = string> {
  /** Stage name (`[A-Za-z0-9._-]`): `tributary-stage` of unrouted records; topic routes publish as `<name>.<route>`. Default `'route'`. */
  name?: string;
  /**
   * Where elements go whose selector result names no route: `'deadLetter'` (a failed element, code
   * TRIBUTARY_ERR_VALIDATION, whose message lists the known routes), `'drop'` (finished as `filtered`) or the name of
   * one of the routes (a route named `deadLetter` or `drop` wins over the keyword). Default `'deadLetter'`.
   */
  default?: 'deadLetter' | 'drop' | K;
}

/** The runtime check and reference documentation of {@link RouteOptions}. */
export const routeOptionsSchema = z
  .strictObject({
    name: stageNameSchema.optional(),
    default: z
      .string()
      .min(1)
      .optional()
      .describe(
        "Where unmatched elements go: 'deadLetter' (failed, TRIBUTARY_ERR_VALIDATION), 'drop' (finished as filtered) " +
          "or a route's name. Default 'deadLetter'.",
      ),
  })
  .describe('Options of route(): branch elements by content to topics or operator chains.');

/** A stage-safe suffix for a route name (topic routes publish as `<name>.<route>`). */
function stageSuffix(routeName: string): string {
  const safe = routeName.replace(/[^A-Za-z0-9._-]/g, '_');
  return safe === '' ? '_' : safe;
}

function listRoutes(names: readonly string[]): string {
  const shown = names.slice(0, 20).map((n) => JSON.stringify(n));
  return names.length > 20 ? `${shown.join(', ')} … (${names.length - 20} more)` : shown.join(', ');
}

function definitionError(message: string): TributaryError {
  return new TributaryError('TRIBUTARY_ERR_PIPELINE_DEFINITION', message);
}

const PASS = -1;
interface Routed<T> {
  readonly branch: number;
  readonly element: Element<T>;
}

/**
 * Branches elements by content (an event type, a message type, a header) to topics or to operator chains, and
 * merges what the branches emit.
 *
 * <span class="informal">Kafka Streams' `split()`/`Branched` as one operator: every element goes to exactly one
 * branch.</span>
 *
 * `selector(element)` names the route of each ok element. A string target publishes the element to that topic (with
 * {@link publish}: the element's key, its value serialized, `correlation-id` carried over; settled `published` once
 * acknowledged; the end of the chain finishes it) and emits it; an operator-chain target receives the element and
 * whatever it emits is emitted. A selector result that names no route goes to `default`: a failed element
 * (`'deadLetter'`, default; code TRIBUTARY_ERR_VALIDATION, message `no route for "x"; known routes: "a", "b"`),
 * finished as `filtered` (`'drop'`), or one of the routes. A selector that throws fails the element
 * (TRIBUTARY_ERR_PROCESSING). Failed input elements are emitted untouched, in no branch. Each element enters exactly
 * one branch, so every record keeps exactly one outcome as long as the branch chains keep the operator contract
 * (finish what they drop).
 *
 * Order: within a branch, elements of one ordering lane keep their order (asynchronous stages run per lane), so
 * each branch sees each key in input order. Different branches run concurrently: two records of one partition that
 * take different routes may finish in either order, as with Kafka Streams' `split()`.
 *
 * ```text
 * --c--l--c--v--|        c = { type: 'created' }, l = { type: 'liked' }, v = { type: 'viewed' }
 *   route((el) => el.value.type, { created: 'feed.created', liked: likesChain })
 * --c--L--c--V--|        c published to feed.created; L = likesChain's output; V = failed (no route for "viewed")
 * ```
 *
 * @example
 * ```ts
 * records.pipe(
 *   parseJson<FeedEvent>(),
 *   route((el) => el.value.type, {
 *     created: 'feed.created',
 *     liked: pipe(mapValue((e) => ({ feedId: e.feedId })), publish('feed.likes')),
 *     viewed: pipe(filterValue(() => false)),
 *   }, { name: 'feed.route' }),
 *   branchToDeadLetter(),
 * );
 * ```
 * @see publish
 * @see branchToDeadLetter for what `'deadLetter'` elements become downstream
 * @param selector the route name of an ok element (`undefined`: no route)
 * @param routes route name → topic, or operator chain
 * @param options stage name and the default route
 * @returns an operator that emits what all branches emit, merged
 */
export function route<T, R extends RouteTable<T>>(
  selector: (element: Envelope<T>) => string | undefined,
  routes: R,
  options: RouteOptions<keyof R & string> = {},
): OperatorFunction<Element<T>, Element<RouteOutput<T, R>>> {
  checkOptions('route', routeOptionsSchema, options);
  const { name = 'route', default: fallback = 'deadLetter' } = options;
  if (typeof selector !== 'function') {
    throw definitionError('route: the selector must be a function (element) => route name');
  }
  const names = Object.keys(routes);
  if (names.length === 0) throw definitionError('route: at least one route is needed');
  const branches: OperatorFunction<Element<T>, Element<unknown>>[] = [];
  const topicTargets: string[] = [];
  const chainTargets: Record<string, unknown> = {};
  for (const routeName of names) {
    const target = routes[routeName];
    if (typeof target === 'string') {
      if (!isTopicName(target)) {
        throw definitionError(`route: route "${routeName}" targets "${target}", which is not a Kafka topic name`);
      }
      const stage = `${name}.${stageSuffix(routeName)}`.slice(0, 100);
      if (!isStageName(stage)) throw definitionError(`route: invalid stage name "${stage}"`);
      branches.push(publish<T>(target, { name: stage }) as OperatorFunction<Element<T>, Element<unknown>>);
      if (!topicTargets.includes(target)) topicTargets.push(target);
    } else if (typeof target === 'function') {
      branches.push(target);
      chainTargets[routeName] = target;
    } else {
      throw definitionError(`route: route "${routeName}" must be a topic name or an operator function`);
    }
  }
  const indexOf = new Map(names.map((routeName, index) => [routeName, index]));
  const defaultBranch = indexOf.get(fallback);
  if (defaultBranch === undefined && fallback !== 'deadLetter' && fallback !== 'drop') {
    throw definitionError(
      `route: default "${fallback}" is not a route; use 'deadLetter', 'drop' or one of ${listRoutes(names)}`,
    );
  }
  const known = listRoutes(names);

  const classify = (element: Element<T>): Routed<T> | undefined => {
    if (!element.ok) return { branch: PASS, element };
    let selected: string | undefined;
    try {
      selected = selector(element);
    } catch (error) {
      return {
        branch: PASS,
        element: failAt(element, name, 'TRIBUTARY_ERR_PROCESSING', `route selector threw: ${errorMessage(error)}`, {
          cause: error,
          retriable: false,
        }),
      };
    }
    const branch = typeof selected === 'string' ? indexOf.get(selected) : undefined;
    if (branch !== undefined) return { branch, element };
    if (defaultBranch !== undefined) return { branch: defaultBranch, element };
    if (fallback === 'drop') {
      element.ticket.finish('filtered');
      return undefined;
    }
    const shown = typeof selected === 'string' ? JSON.stringify(selected) : String(selected);
    return {
      branch: PASS,
      element: failAt(element, name, 'TRIBUTARY_ERR_VALIDATION', `no route for ${shown}; known routes: ${known}`, {
        retriable: false,
        details: { selected, routes: names },
      }),
    };
  };

  const operator: OperatorFunction<Element<T>, Element<RouteOutput<T, R>>> = (source) =>
    source.pipe(
      map(classify),
      filter((routed): routed is Routed<T> => routed !== undefined),
      connect((shared) => {
        const pick = (branch: number): Observable<Element<T>> =>
          shared.pipe(
            filter((routed) => routed.branch === branch),
            map((routed) => routed.element),
          );
        return merge(pick(PASS), ...branches.map((branch, index) => pick(index).pipe(branch)));
      }),
    ) as Observable<Element<RouteOutput<T, R>>>;
  return describeStage(operator, { name, kind: 'route', outputTopics: topicTargets, branches: chainTargets });
}
