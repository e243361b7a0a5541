/**
 * The client side of admitted requests: one promise per request id, settled
 * exactly once — with a lease when the scheduler grants it, with an error
 * when it fails, or with 499 when the client leaves first.
 */
import { ModelswapError } from "./errors.ts";

interface Waiter<T> {
  model: string;
  signal: AbortSignal;
  resolve(value: T): void;
  reject(error: ModelswapError): void;
  onPosition?: (position: number) => void;
  onCancel(): void;
  onAbort(): void;
}

/** Pending client promises by request id. */
export class Waiters<T> {
  readonly #waiting = new Map<number, Waiter<T>>();

  /**
   * Wait for request `id`. `onCancel` runs once if the client leaves before
   * the request is settled; `onPosition` hears its queue position.
   */
  add(id: number, model: string, signal: AbortSignal, onCancel: () => void, onPosition?: (position: number) => void): Promise<T> {
    const onAbort = () => this.cancel(id);
    const promise = new Promise<T>((resolve, reject) => {
      this.#waiting.set(id, { model, signal, resolve, reject, onPosition, onCancel, onAbort });
    });
    promise.catch(() => {}); // a rejection nobody awaits (client gone) is not an error
    signal.addEventListener("abort", onAbort, { once: true });
    return promise;
  }

  /** The client left: settle with 499 and run `onCancel`, unless already settled. */
  cancel(id: number): void {
    const waiter = this.#take(id);
    if (!waiter) return;
    waiter.onCancel();
    waiter.reject(new ModelswapError(499, "client_closed", `client closed the request for model "${waiter.model}" while it waited`, { model: waiter.model }));
  }

  /**
   * Settle with what `make` builds (a lease, or an error to reject with).
   * False when the client is already gone or `make` gave an error.
   */
  grant(id: number, make: () => T | ModelswapError): boolean {
    if (this.#waiting.get(id)?.signal.aborted !== false) return false;
    const waiter = this.#take(id)!;
    const value = make();
    if (value instanceof ModelswapError) {
      waiter.reject(value);
      return false;
    }
    waiter.resolve(value);
    return true;
  }

  /** Settle with an error. */
  fail(id: number, error: ModelswapError): void {
    this.#take(id)?.reject(error);
  }

  /** Forget a request refused at admission (its caller throws the refusal). */
  drop(id: number): void {
    this.#take(id);
  }

  /** Tell a queued request its 1-based position. */
  position(id: number, position: number): void {
    this.#waiting.get(id)?.onPosition?.(position);
  }

  #take(id: number): Waiter<T> | undefined {
    const waiter = this.#waiting.get(id);
    if (!waiter) return undefined;
    this.#waiting.delete(id);
    waiter.signal.removeEventListener("abort", waiter.onAbort);
    return waiter;
  }
}
