/** The listeners of one consumer event (an adapter's onAssigned, onFatal, …): add returns the remover. */
export type Listener<T extends unknown[]> = (...args: T) => void;

export class Listeners<T extends unknown[]> {
  readonly #set = new Set<Listener<T>>();
  add(listener: Listener<T>): () => void {
    this.#set.add(listener);
    return () => {
      this.#set.delete(listener);
    };
  }
  /** Calls every listener added, in order; one added or removed meanwhile counts from the next emit. */
  emit(...args: T): void {
    for (const listener of [...this.#set]) listener(...args);
  }
}
