/**
 * Walking a failed call's tree of errors: clients wrap the reason in causes (`cause`, kafkajs' `originalError`) and in
 * lists of attempts (an AggregateError's `errors`), so what says why (a protocol error, a socket error, a TLS
 * refusal) is rarely the outermost error.
 */

/**
 * Every error in `error`'s tree (`cause`, `errors` of an AggregateError, kafkajs' `originalError`), breadth first, up
 * to 2,000 of them: @platformatic/kafka nests its retries (a heartbeat failed 4 times, each a coordinator lookup that
 * failed 4 times, each over every broker), so the socket error that says why sits a few hundred errors deep.
 */
export function errorsInTree(error: unknown): unknown[] {
  const queue: unknown[] = [error];
  const seen = new Set<unknown>();
  const found: unknown[] = [];
  while (queue.length > 0 && seen.size < 2_000) {
    const current = queue.shift();
    if (current === undefined || current === null || seen.has(current)) continue;
    seen.add(current);
    found.push(current);
    const { cause, errors, originalError } = current as { cause?: unknown; errors?: unknown; originalError?: unknown };
    queue.push(cause, originalError, ...(Array.isArray(errors) ? errors : []));
  }
  return found;
}

/** The first error in `error`'s tree (see {@link errorsInTree}) matching. */
export function findInErrorTree(error: unknown, match: (candidate: unknown) => boolean): unknown {
  return errorsInTree(error).find(match);
}

/** The first system error (code ECONNREFUSED, ETIMEDOUT, ...) in a failed call. */
export function systemErrorIn(error: unknown): Error | undefined {
  return errorsInTree(error).find(
    (e): e is Error => e instanceof Error && /^E[A-Z]+$/.test(String((e as { code?: unknown }).code)),
  );
}
