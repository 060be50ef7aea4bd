/** Polls an engine's /readyz every 100 ms and keeps every answer, so a test can say when it turned 503 and back. */

export interface ReadinessProbe {
  /** HTTP status; 0 when the request itself failed. */
  readonly status: number;
  readonly reasons: readonly string[];
  /** performance.now() when the answer arrived. */
  readonly at: number;
}

export interface ReadinessWatch {
  readonly probes: readonly ReadinessProbe[];
  last(): ReadinessProbe | undefined;
  /** The first probe (already seen or still to come) matching `match`, or undefined after `timeoutMs`. */
  waitFor(match: (probe: ReadinessProbe) => boolean, timeoutMs: number): Promise<ReadinessProbe | undefined>;
  /** Probes answered in [from, to]. */
  between(from: number, to: number): ReadinessProbe[];
  stop(): Promise<void>;
}

const POLL_MS = 100;
const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

export function watchReadiness(url: string): ReadinessWatch {
  const probes: ReadinessProbe[] = [];
  let polling = true;
  const loop = (async () => {
    while (polling) {
      try {
        const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
        const body = (await response.json()) as { reasons?: string[] };
        probes.push({ status: response.status, reasons: body.reasons ?? [], at: performance.now() });
      } catch {
        probes.push({ status: 0, reasons: ['request failed'], at: performance.now() });
      }
      await sleep(POLL_MS);
    }
  })();
  return {
    probes,
    last: () => probes.at(-1),
    async waitFor(match, timeoutMs) {
      const deadline = performance.now() + timeoutMs;
      for (;;) {
        const found = probes.find(match);
        if (found || performance.now() > deadline) return found;
        await sleep(POLL_MS / 2);
      }
    },
    between: (from, to) => probes.filter((p) => p.at >= from && p.at <= to),
    async stop() {
      polling = false;
      await loop;
    },
  };
}
