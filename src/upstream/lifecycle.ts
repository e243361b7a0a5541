/**
 * The steps a model's process carries out around its own start and stop:
 * after a start passes its health check (and before it counts as ready),
 * its saved context is restored and its `after_load` hooks run; before a
 * planned stop signals it, its context is saved and its `before_unload`
 * hooks run. A crash runs nothing. Every step is bounded and never fails
 * the start or the stop: what it achieved is reported, what failed is
 * logged.
 */
import type { LogBuffer } from "../logging/buffer.ts";
import type { Runtime } from "../runtime/runtime.ts";
import type { ContextSpec, ContextStore, RestoreReport, SaveReport, SavedContext } from "./context.ts";
import { type HookOutcome, type HookSpec, runHook } from "./hooks.ts";

/** What a model does around its start and stop (derived from its config). */
export interface LifecycleSpec {
  /** Where its context is saved (`keepContext`), or null. */
  context: ContextSpec | null;
  beforeUnload: HookSpec[];
  afterLoad: HookSpec[];
  hookTimeoutMs: number;
}

/** What happened after a start passed its health check. */
export interface ReadyReport {
  /** The context restored, if any. */
  context: RestoreReport | null;
  hooks: HookOutcome[];
}

/** What happened before a planned stop. */
export interface StopReport {
  /** The context saved, if any. */
  context: SaveReport | null;
  hooks: HookOutcome[];
}

/** Nothing happened (a model with no steps, or a stop of a process that was not ready). */
export const NOTHING_DONE: ReadyReport & StopReport = { context: null, hooks: [] };

/** One model's process as the steps need it. */
export interface StepTarget {
  id: string;
  lifecycle: LifecycleSpec;
  /** The model's server. */
  baseUrl: string;
  env: Record<string, string>;
  /** The model's log. */
  log: LogBuffer;
}

/** Receives what the steps achieved, for metrics and the model list. */
export interface LifecycleObserver {
  contextSaved?(model: string, report: SaveReport): void;
  contextRestored?(model: string, report: RestoreReport): void;
  contextForgotten?(model: string): void;
}

/** Carries out the steps for every model; one per router. */
export class LifecycleRunner {
  readonly #runtime: Runtime;
  readonly #store: ContextStore;
  readonly #observer: LifecycleObserver;
  /** Per model: its context directory being set up (awaited before a restore). */
  readonly #tracking = new Map<string, Promise<void>>();

  constructor(runtime: Runtime, store: ContextStore, observer: LifecycleObserver = {}) {
    this.#runtime = runtime;
    this.#store = store;
    this.#observer = observer;
  }

  /** Take on a model's (new) spec: a keepContext model's save of an earlier run is picked up. */
  prepare(id: string, lifecycle: LifecycleSpec): void {
    const context = lifecycle.context;
    if (!context) return;
    const tracked = this.#store.track(id, context).catch(() => {});
    this.#tracking.set(id, tracked);
  }

  /** Resolves once every model's save of an earlier run has been looked for (the status views show them from then on). */
  async ready(): Promise<void> {
    await Promise.all(this.#tracking.values());
  }

  /** The model's saved context, for the status views. */
  saved(id: string): SavedContext | null {
    return this.#store.saved(id);
  }

  /** Delete the model's saved context. */
  async forget(id: string): Promise<void> {
    await this.#store.forget(id);
    this.#observer.contextForgotten?.(id);
  }

  /** After the health check: restore the context, then run `after_load`. */
  async afterReady(target: StepTarget): Promise<ReadyReport> {
    const { id, lifecycle } = target;
    let context: RestoreReport | null = null;
    if (lifecycle.context) {
      await this.#tracking.get(id);
      context = await this.#store.restore(id, lifecycle.context, target.baseUrl);
      if (context) this.#observer.contextRestored?.(id, context);
    }
    return { context, hooks: await this.#run("after_load", lifecycle.afterLoad, target) };
  }

  /** Before the stop signal of a ready process: save the context, then run `before_unload`. */
  async beforeStop(target: StepTarget): Promise<StopReport> {
    const { id, lifecycle } = target;
    let context: SaveReport | null = null;
    if (lifecycle.context) {
      await this.#tracking.get(id);
      context = await this.#store.save(id, lifecycle.context, target.baseUrl);
      if (context) this.#observer.contextSaved?.(id, context);
    }
    return { context, hooks: await this.#run("before_unload", lifecycle.beforeUnload, target) };
  }

  async #run(name: string, hooks: HookSpec[], target: StepTarget): Promise<HookOutcome[]> {
    const outcomes: HookOutcome[] = [];
    for (const hook of hooks) {
      outcomes.push(await runHook(name, hook, {
        runtime: this.#runtime,
        baseUrl: target.baseUrl,
        env: target.env,
        log: target.log,
        timeoutMs: target.lifecycle.hookTimeoutMs,
      }));
    }
    return outcomes;
  }
}
