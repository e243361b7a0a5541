/**
 * Test doubles for the scheduler: a fake world implementing Effects that
 * records every call and keeps model states the way the router would, a fake
 * clock that fires the scheduler's timer, and a table-driven stub planner.
 */
import type { ModelswapError } from "../../src/errors.ts";
import type { Effects, Planner, RequestId, StopReason, SwapPlan } from "../../src/scheduler/effects.ts";
import type { ModelState } from "../../src/upstream/state.ts";
import { Scheduler, type SchedulerSettings } from "../../src/scheduler/scheduler.ts";

/** An error the scheduler hands to `fail`: its own refusals, or a swap's error passed through. */
export type Failure = Error & { status: number; code: string; details: { model?: unknown }; retryAfter?: number };

/** Planner from a table: target → models it evicts (when running). Unlisted targets evict nothing. */
export class StubPlanner implements Planner {
  constructor(readonly table: Record<string, string[]> = {}) {}

  evictionFor(target: string, running: string[]): string[] {
    const evicts = this.table[target] ?? [];
    return running.filter((model) => model !== target && evicts.includes(model));
  }

  explain(target: string, running: string[]): string {
    return `stub evict=[${this.evictionFor(target, running).join(", ")}]`;
  }
}

/** Every model evicts every other one. */
export class AllExclusive implements Planner {
  evictionFor(target: string, running: string[]): string[] {
    return running.filter((model) => model !== target);
  }

  explain(target: string, running: string[]): string {
    return `exclusive evict=[${this.evictionFor(target, running).join(", ")}]`;
  }
}

/** Effects that record calls and track model states like the router. */
export class FakeWorld implements Effects {
  readonly states = new Map<string, ModelState>();
  readonly swaps: SwapPlan[] = [];
  readonly grants: Array<{ id: RequestId; model: string }> = [];
  readonly fails: Array<{ id: RequestId; error: Failure }> = [];
  readonly stops: string[][] = [];
  /** Why each entry of `stops` was asked for. */
  readonly stopReasons: StopReason[] = [];
  readonly timers: Array<number | null> = [];
  readonly positions = new Map<RequestId, number[]>();
  readonly debugs: string[] = [];
  /** Requests whose client is gone: grant returns false for them. */
  readonly gone = new Set<RequestId>();

  constructor(ready: string[] = []) {
    for (const model of ready) this.states.set(model, "ready");
  }

  modelState(model: string): ModelState {
    return this.states.get(model) ?? "stopped";
  }

  isReady(model: string): boolean {
    return this.modelState(model) === "ready";
  }

  runningModels(): string[] {
    return [...this.states].filter(([, state]) => state !== "stopped" && state !== "failed").map(([m]) => m).sort();
  }

  startSwap(plan: SwapPlan): void {
    this.swaps.push(plan);
    for (const model of plan.evict) this.states.set(model, "stopping");
    if (this.modelState(plan.target) !== "ready") this.states.set(plan.target, "starting");
  }

  grant(id: RequestId, model: string): boolean {
    if (this.gone.has(id)) return false;
    this.grants.push({ id, model });
    return true;
  }

  fail(id: RequestId, error: Failure): void {
    this.fails.push({ id, error });
  }

  stopModels(models: string[], reason: StopReason): void {
    this.stops.push([...models]);
    this.stopReasons.push(reason);
    for (const model of models) this.states.set(model, "stopped");
  }

  setTimer(at: number | null): void {
    this.timers.push(at);
  }

  queuePosition(id: RequestId, position: number): void {
    const seen = this.positions.get(id) ?? [];
    seen.push(position);
    this.positions.set(id, seen);
  }

  debug(message: string): void {
    this.debugs.push(message);
  }

  /** The armed timer (last setTimer value). */
  get timer(): number | null {
    return this.timers.length ? this.timers[this.timers.length - 1] : null;
  }

  /** Ids granted so far, in order. */
  get granted(): RequestId[] {
    return this.grants.map((g) => g.id);
  }

  /** Ids failed so far, in order. */
  get failed(): RequestId[] {
    return this.fails.map((f) => f.id);
  }

  /** The last swap started for `target`. */
  swapTo(target: string): SwapPlan {
    const plan = this.swaps.findLast((swap) => swap.target === target);
    if (!plan) throw new Error(`no swap to ${target}; swaps: ${this.swaps.map((s) => s.target).join(",")}`);
    return plan;
  }
}

/** Settings with defaults matching the config (limit 10, priority 0, no starvation timeout). */
export function settings(overrides: Partial<SchedulerSettings> & {
  known?: string[];
  limits?: Record<string, number>;
  priorities?: Record<string, number>;
  /** ttl per model in ms (default none). */
  ttls?: Record<string, number>;
} = {}): SchedulerSettings {
  const { known, limits = {}, priorities = {}, ttls = {}, ...rest } = overrides;
  return {
    isKnown: (model) => (known ? known.includes(model) : true),
    limitFor: (model) => limits[model] ?? 10,
    priorityFor: (model) => priorities[model] ?? 0,
    ttlFor: (model) => ttls[model] ?? 0,
    starvationTimeoutMs: 0,
    maxQueue: 1000,
    ...rest,
  };
}

/** A scheduler, its fake world and a fake clock that fires the armed timer. */
export class Rig {
  readonly world: FakeWorld;
  readonly scheduler: Scheduler;
  now = 0;
  #nextId = 1;

  constructor(planner: Planner, opts: { ready?: string[]; settings?: SchedulerSettings } = {}) {
    this.world = new FakeWorld(opts.ready);
    this.scheduler = new Scheduler(planner, this.world, opts.settings ?? settings());
  }

  /** Admits a new request; returns its id (throws if refused). */
  request(model: string): RequestId {
    const id = this.#nextId++;
    const admission = this.scheduler.request(id, model, this.now);
    if (!admission.ok) throw admission.error;
    return id;
  }

  /** Tries to admit a request; returns the admission. */
  tryRequest(model: string): ReturnType<Scheduler["request"]> & { id: RequestId } {
    const id = this.#nextId++;
    return { ...this.scheduler.request(id, model, this.now), id };
  }

  /** Completes the last swap to `target` as the router would (stop evictees, start target). */
  finishSwap(target: string, error: ModelswapError | null = null): void {
    const plan = this.world.swapTo(target);
    for (const model of plan.evict) this.world.states.set(model, "stopped");
    this.world.states.set(target, error ? "failed" : "ready");
    this.scheduler.swapDone(plan.id, error, this.now);
  }

  serveDone(id: RequestId): void {
    this.scheduler.serveDone(id, this.now);
  }

  cancel(id: RequestId): void {
    this.scheduler.cancel(id, this.now);
  }

  /** Reports that a model's process stopped, as the router does when its stop completes or it crashes. */
  stopped(model: string): void {
    this.world.states.set(model, "stopped");
    this.scheduler.modelStopped(model, this.now);
  }

  /** Moves the clock to `at`, firing the scheduler's timer when it falls due on the way. */
  advanceTo(at: number): void {
    for (;;) {
      const timer = this.world.timer;
      if (timer === null || timer > at || timer < this.now) break;
      this.now = timer;
      this.scheduler.tick(this.now);
      if (this.world.timer === timer) break;
    }
    this.now = at;
  }

  /** Counters and queue sizes; equal to IDLE when every request has been released. */
  counters(): { inFlight: Record<string, number>; reserved: Record<string, number>; queued: number; swaps: number } {
    const snap = this.scheduler.snapshot();
    return { inFlight: snap.inFlight, reserved: snap.reserved, queued: snap.queued.length, swaps: snap.swaps.length };
  }
}

/** What `Rig.counters` returns when nothing is admitted, queued or swapping. */
export const IDLE = { inFlight: {}, reserved: {}, queued: 0, swaps: 0 };
