/**
 * Waiting for the conformance suite: poll until a condition holds (generous timeout, short interval, so a real
 * broker has time and an in-memory client passes at once), and a quiet period for what must NOT happen.
 */

/** Generous: a group join or a rebalance on a real broker takes seconds; an in-memory client needs none of it. */
export const WAIT_MS = 30_000;

export function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

/**
 * Polls `check` (first at once, then every 20 ms) until it returns true; throws after `timeoutMs`, saying `what` and
 * (when given) `state()` — what was seen instead.
 */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string,
  options: { timeoutMs?: number; state?: () => string } = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? WAIT_MS;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) {
      const seen = options.state === undefined ? '' : `; seen: ${options.state()}`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${seen}`);
    }
    await sleep(20);
  }
}

/** Resolves with how `promise` settled, so a test can assert on a rejection it expects without try/catch. */
export async function settle<T>(promise: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  try {
    return { ok: true, value: await promise };
  } catch (error) {
    return { ok: false, error };
  }
}

/** A promise resolved from outside (holding a batch handler until the test lets it go). */
export interface Gate {
  readonly promise: Promise<void>;
  open(): void;
}

export function gate(): Gate {
  let open: () => void = () => {};
  const promise = new Promise<void>((done) => {
    open = done;
  });
  return { promise, open };
}
