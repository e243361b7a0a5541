/**
 * The contract between the pure scheduler and the world. The scheduler never
 * performs I/O, never reads a clock and never awaits: it reacts to events
 * (method calls carrying `now`) by calling these effects synchronously.
 */
import type { ModelswapError } from "../errors.ts";

/** Process state as the upstream reports it (advisory: never gate a mutation on it). */
export type ModelState = "stopped" | "starting" | "ready" | "stopping" | "failed";

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

/** What the scheduler does to the world. Implemented by the router; faked in tests. */
export interface Effects {
  /** Current process state of a model (advisory). */
  modelState(model: string): ModelState;
  /** Models whose process is not stopped (starting, ready, stopping, failed excluded). */
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
  fail(id: RequestId, error: ModelswapError): void;
  /** Stop these models now (unload, TTL expiry); completion is not reported. */
  stopModels(models: string[]): void;
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

/** Eviction policy: which running models must stop before `target` may run. Pure. */
export interface Planner {
  /** `running` is sorted and includes targets of swaps already started. Must not log. */
  evictionFor(target: string, running: string[]): string[];
  /** One-line explanation of the decision for the swap log (e.g. chosen set and cost). */
  explain(target: string, running: string[]): string;
}
