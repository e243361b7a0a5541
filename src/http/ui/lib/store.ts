/**
 * A tiny observable value: pages subscribe with {@link useStore} and
 * re-render when it changes. Enough for the dashboard's few shared states
 * (live models, connection, hardware history) without a state library.
 */
import { useEffect, useState } from "preact/hooks";

/** A value that tells its subscribers when it is replaced. */
export class Store<T> {
  #value: T;
  readonly #listeners = new Set<(value: T) => void>();

  constructor(value: T) {
    this.#value = value;
  }

  get value(): T {
    return this.#value;
  }

  /** Replace the value and notify every subscriber. */
  set(value: T): void {
    this.#value = value;
    for (const listener of [...this.#listeners]) listener(value);
  }

  /** Replace the value with what `change` makes of it. */
  update(change: (value: T) => T): void {
    this.set(change(this.#value));
  }

  /** Call `listener` on every change; returns the unsubscribe function. */
  subscribe(listener: (value: T) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

/** The store's current value, re-rendering the component when it changes. */
export function useStore<T>(store: Store<T>): T {
  const [value, setValue] = useState(store.value);
  useEffect(() => {
    setValue(store.value);
    return store.subscribe(setValue);
  }, [store]);
  return value;
}
