/**
 * The contract between the pure scheduler and the world. The scheduler never
 * performs I/O, never reads a clock and never awaits: it reacts to events
 * (method calls carrying `now`) by calling these effects synchronously.
 */

/** Identifies one client request for its whole life in the scheduler. */
export type RequestId = number;

/** A swap the scheduler asks the router to perform. */
export interface SwapPlan {
  /** Unique per scheduler; echoed back in `swapDone`. */
  id: number;
  /** Model to make ready. */
  target: string;
  /** Models to stop (and see reaped) before the target starts. */
  evict: string[];
  /** Human-readable planner explanation, e.g. `set=standard cost=1`. */
  reason: string;
}

/** Why the scheduler stops a model outside a swap. */
export type StopReason = "unload" | "ttl" | "keep-alive" | "restart" | "shutdown";

/** What the scheduler does to the world. Implemented by the router; faked in tests. */
export interface Effects {
  /** Is the model's process ready to serve now? (advisory) */
  isReady(model: string): boolean;
  /** Models whose process is not stopped: starting, ready or stopping (failed excluded), sorted. */
  runningModels(): string[];
  /**
   * Begin a swap asynchronously: stop `evict` in parallel, then make `target`
   * ready; the router reports completion with `Scheduler.swapDone(plan.id, err)`.
   */
  startSwap(plan: SwapPlan): void;
  /**
   * Hand the ready model to a waiting request. Returns false when the client
   * is already gone, in which case nothing is counted as in flight.
   */
  grant(id: RequestId, model: string): boolean;
  /** Fail an admitted request (start failure, unload, shutdown). Releases nothing by itself. */
  fail(id: RequestId, error: Error): void;
  /** Stop these models now; the router reports each stop with `Scheduler.modelStopped`. */
  stopModels(models: string[], reason: StopReason): void;
  /**
   * Arm the single wake-up timer: call `Scheduler.tick(now)` at time `at`
   * (ms, same clock as the events' `now`); `null` disarms it.
   */
  setTimer(at: number | null): void;
  /** A queued request's 1-based position changed (for loading feedback). Optional. */
  queuePosition?(id: RequestId, position: number): void;
  /** Debug-level explanation of a decision. Optional. */
  debug?(message: string): void;
}

/** What a planner may know besides the running set. */
export interface PlanContext {
  /** When the model last started or finished serving a request (ms, the events' clock; 0 = never). */
  lastUsed(model: string): number;
  /** Requests the model is serving now: a planner that can choose prefers idle victims (busy ones are waited for). */
  inFlight(model: string): number;
}

/** Eviction policy: which running models must stop before `target` may run. Pure. */
export interface Planner {
  /**
   * `running` is sorted and includes targets of swaps already started. Must not log.
   * The scheduler always passes `context`; callers outside it may leave it out.
   */
  evictionFor(target: string, running: string[], context?: PlanContext): string[];
  /** One-line explanation of the decision for the swap log (e.g. chosen set and cost). */
  explain(target: string, running: string[], context?: PlanContext): string;
}
