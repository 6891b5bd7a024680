// A small typed event emitter: `on(event, listener)` returns the function that removes it.

export type Listener<T> = (value: T) => void;

export class Emitter<Events extends object> {
  private readonly listeners = new Map<keyof Events, Set<Listener<never>>>();

  /** Calls `listener` with every `event` from now on; the returned function stops that. */
  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    let set = this.listeners.get(event);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
    };
  }

  /** True when someone listens to `event`. */
  has<K extends keyof Events>(event: K): boolean {
    return (this.listeners.get(event)?.size ?? 0) > 0;
  }

  /**
   * Calls the listeners of `event` in the order they were added. A listener that throws does not
   * stop the others nor the client: its exception is thrown again on its own task, where the
   * runtime reports it as it reports any uncaught error.
   */
  emit<K extends keyof Events>(event: K, value: Events[K]): void {
    const set = this.listeners.get(event);
    if (set === undefined) {
      return;
    }
    for (const listener of [...set] as Array<Listener<Events[K]>>) {
      try {
        listener(value);
      } catch (e) {
        setTimeout(() => {
          throw e;
        }, 0);
      }
    }
  }

  clear(): void {
    this.listeners.clear();
  }
}
