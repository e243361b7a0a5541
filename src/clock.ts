/** Time as the router sees it: the wall clock in production, a fake one in tests. */
export interface Clock {
  now(): number;
  /** Call `wake` at time `at` (ms, same clock); returns a function that cancels it. */
  wakeAt(at: number, wake: () => void): () => void;
}

/** The wall clock. */
export const SYSTEM_CLOCK: Clock = {
  now: () => Date.now(),
  wakeAt(at, wake) {
    const timer = setTimeout(wake, Math.max(0, at - Date.now()));
    return () => clearTimeout(timer);
  },
};
