/** Time as the router sees it: the wall clock in production, a fake one in tests. */
export interface Clock {
  now(): number;
  /** Call `wake` at time `at` (ms, same clock); returns a function that cancels it. */
  wakeAt(at: number, wake: () => void): () => void;
}

/** The longest delay `setTimeout` honours (a longer one fires at once on both runtimes). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The wall clock. A wake-up further away than a timer can wait is re-armed until it is due. */
export const SYSTEM_CLOCK: Clock = {
  now: () => Date.now(),
  wakeAt(at, wake) {
    let timer: ReturnType<typeof setTimeout>;
    const arm = () => {
      const delay = at - Date.now();
      timer = delay > MAX_TIMER_MS ? setTimeout(arm, MAX_TIMER_MS) : setTimeout(wake, Math.max(0, delay));
    };
    arm();
    return () => clearTimeout(timer);
  },
};
