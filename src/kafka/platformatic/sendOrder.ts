/**
 * Sends to a topic enter the client in the order they were called: a send waits for the earlier sends that share a
 * topic with it to settle; sends to other topics do not wait, so a topic whose sends keep failing never holds the
 * others. (Same rule as the kafkajs adapter: a client's retries could otherwise write two sends in flight at once in
 * either order.)
 */
export class SendOrder {
  readonly #last = new Map<string, Promise<void>>();

  enter(topics: readonly string[]): { ready: Promise<unknown>; done: () => void } {
    let settle: () => void = () => {};
    const settled = new Promise<void>((resolve) => {
      settle = resolve;
    });
    const before: Promise<void>[] = [];
    for (const topic of topics) {
      const previous = this.#last.get(topic);
      if (previous !== undefined) before.push(previous);
      this.#last.set(topic, settled);
    }
    return {
      ready: Promise.all(before),
      done: () => {
        settle();
        for (const topic of topics) if (this.#last.get(topic) === settled) this.#last.delete(topic);
      },
    };
  }
}
