/**
 * Binds the pure scheduler to the world. The scheduler decides; the router
 * carries its effects out on the model processes and resolves the client
 * promises, and turns what happens (a swap done, a request served, a process
 * stopped, a client gone) back into scheduler events. It keeps no timers and
 * no decisions of its own.
 */
import type { Config } from "./config/schema.ts";
import { ModelswapError } from "./errors.ts";
import type { Logger } from "./logging/logger.ts";
import { NO_OBSERVER, type Observer } from "./observer.ts";
import type { Effects, Planner, RequestId, StopReason, SwapPlan } from "./scheduler/effects.ts";
import { SchedulerError } from "./scheduler/refusal.ts";
import { Scheduler } from "./scheduler/scheduler.ts";
import { schedulerSettings, upstreamSpec } from "./setup.ts";
import { sameSpec, type UpstreamSpec } from "./upstream/spec.ts";
import type { ModelState } from "./upstream/state.ts";
import type { ModelProcess, ProcessStatus, UpstreamConnection, UpstreamHooks } from "./upstream/upstream.ts";

/** The right to send requests to a ready model's process; release it exactly once. */
export interface Lease extends UpstreamConnection {
  readonly model: string;
  /** Ends this request's claim on the model (serve done). Safe to call twice. */
  release(): void;
}

/** A request admitted by the scheduler, waiting for its model. */
export interface Ticket {
  /** Resolves when the model is ready for this request; rejects on failure or cancel. */
  lease: Promise<Lease>;
  /** True when the model was not ready at admission (the client will wait). */
  mustWait: boolean;
}

/** Per-model facts for `/running` and `/api/status`. */
export interface ModelStatus extends ProcessStatus {
  model: string;
  inFlight: number;
  queued: number;
}

/** Time as the router sees it; a fake one in tests. */
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

/** What the router needs besides the config. */
export interface RouterDeps {
  log: Logger;
  /** Creates the process of one model (an `Upstream` in production). */
  processes(spec: UpstreamSpec, hooks: UpstreamHooks): ModelProcess;
  /** Metrics, events and activity (default: none). */
  observer?: Observer;
  clock?: Clock;
}

interface Pending {
  model: string;
  signal: AbortSignal;
  resolve(lease: Lease): void;
  reject(error: ModelswapError): void;
  onPosition?: (position: number) => void;
  detach(): void;
}

/** The scheduler's refusals become HTTP errors with the same status, code and message. */
function httpError(error: Error): ModelswapError {
  if (error instanceof ModelswapError) return error;
  if (error instanceof SchedulerError) {
    return new ModelswapError(error.status, error.code, error.message, error.details, error.retryAfter);
  }
  return new ModelswapError(500, "internal_error", `modelswap internal error: ${error.message}`);
}

/** The router: one per running server; a config reload reconfigures it. */
export class Router {
  #config: Config;
  readonly #deps: RouterDeps;
  readonly #clock: Clock;
  readonly #observer: Observer;
  readonly #processes = new Map<string, ModelProcess>();
  readonly #pending = new Map<RequestId, Pending>();
  readonly #stops = new Map<string, Promise<void>>();
  readonly #scheduler: Scheduler;
  #cancelWake = () => {};
  #nextId = 1;
  #closed = false;

  constructor(setup: { config: Config; planner: Planner }, deps: RouterDeps) {
    this.#config = setup.config;
    this.#deps = deps;
    this.#clock = deps.clock ?? SYSTEM_CLOCK;
    this.#observer = deps.observer ?? NO_OBSERVER;
    for (const id of Object.keys(setup.config.models)) this.#addProcess(upstreamSpec(setup.config, id));
    this.#scheduler = new Scheduler(setup.planner, this.#effects(), schedulerSettings(setup.config));
  }

  /** The config this router serves. */
  get config(): Config {
    return this.#config;
  }

  /** A model's process state (advisory), or undefined for an unknown id. */
  state(model: string): ModelState | undefined {
    return this.#processes.get(model)?.state;
  }

  /**
   * Admit a request for `model` (a resolved model id). Throws a
   * ModelswapError synchronously when it is refused at admission (404, 429,
   * 503), before any response byte is written.
   */
  request(model: string, signal: AbortSignal, onPosition?: (position: number) => void): Ticket {
    if (this.#closed) throw new ModelswapError(503, "shutting_down", "modelswap is shutting down; retry against the new instance");
    const id = this.#nextId++;
    const mustWait = this.state(model) !== "ready";
    let pending!: Pending;
    const lease = new Promise<Lease>((resolve, reject) => {
      pending = { model, signal, resolve, reject, onPosition, detach: () => signal.removeEventListener("abort", cancel) };
    });
    lease.catch(() => {}); // a rejection nobody awaits (client gone) is not an error
    /** The client left before its grant: leave the scheduler, exactly once. */
    const cancel = () => {
      if (!this.#pending.delete(id)) return;
      pending.detach();
      this.#scheduler.cancel(id, this.#clock.now());
      this.#observer.loadChanged();
      pending.reject(new ModelswapError(499, "client_closed", `client closed the request for model "${model}" while it waited`, { model }));
    };
    signal.addEventListener("abort", cancel, { once: true });
    this.#pending.set(id, pending);
    const admission = this.#scheduler.request(id, model, this.#clock.now());
    if (!admission.ok) {
      this.#pending.delete(id);
      pending.detach();
      throw httpError(admission.error);
    }
    this.#observer.loadChanged();
    if (signal.aborted) cancel();
    return { lease, mustWait };
  }

  /**
   * A lease for a static asset of a loaded model (`upstream.ignorePaths`):
   * it neither loads the model nor takes a slot. 409 when it is not loaded.
   */
  assetLease(model: string, path: string): Lease {
    const connection = this.#processes.get(model)?.connection();
    if (!connection) {
      throw new ModelswapError(409, "model_not_loaded", `model "${model}" is not loaded; ${path} does not load it (upstream.ignorePaths)`, { model });
    }
    return { ...connection, model, release: () => {} };
  }

  /** Stop models (all when `"all"`) and fail what waits for them; resolves when stopped. */
  async unload(models: string[] | "all"): Promise<void> {
    this.#scheduler.unload(models, this.#clock.now());
    const ids = models === "all" ? [...this.#processes.keys()] : models;
    await Promise.all(ids.map((id) => this.#stops.get(id)));
  }

  /** Load a model as if a request came in and finished at once (preload, UI "load"). */
  async load(model: string): Promise<void> {
    const ticket = this.request(model, new AbortController().signal);
    (await ticket.lease).release();
  }

  /** Per-model status, sorted by id. */
  status(): ModelStatus[] {
    const snap = this.#scheduler.snapshot();
    const queued = new Map<string, number>();
    for (const q of snap.queued) queued.set(q.model, (queued.get(q.model) ?? 0) + 1);
    for (const s of snap.swaps) queued.set(s.target, (queued.get(s.target) ?? 0) + s.waiters);
    return [...this.#processes].map(([model, process]) => ({
      model,
      ...process.status(),
      inFlight: snap.inFlight[model] ?? 0,
      queued: queued.get(model) ?? 0,
    })).sort((a, b) => a.model.localeCompare(b.model));
  }

  /** Refuse new requests, fail waiting ones, stop every model and wait until all are reaped. */
  async shutdown(): Promise<void> {
    this.#closed = true;
    this.#scheduler.shutdown(this.#clock.now());
    await Promise.all([...this.#processes.values()].map((process) => process.stop()));
  }

  /**
   * Apply a reloaded (already validated) config. Unchanged models keep
   * running and serving; a changed model restarts with its new settings once
   * its in-flight requests are done; removed models stop; new ones appear
   * (one removed a moment ago and still stopping comes back as itself).
   */
  reconfigure(setup: { config: Config; planner: Planner }): { added: string[]; changed: string[]; removed: string[] } {
    const { config } = setup;
    const before = this.#config.models;
    const now = this.#clock.now();
    const removed = Object.keys(before).filter((id) => !Object.hasOwn(config.models, id));
    if (removed.length) this.#scheduler.unload(removed, now);
    this.#config = config;
    const added: string[] = [];
    const changed: string[] = [];
    for (const id of Object.keys(config.models)) {
      const spec = upstreamSpec(config, id);
      const process = this.#processes.get(id);
      if (!Object.hasOwn(before, id)) added.push(id);
      if (!process) this.#addProcess(spec);
      else if (!sameSpec(spec, process.configuredSpec)) {
        process.updateSpec(spec);
        if (Object.hasOwn(before, id)) changed.push(id);
      }
    }
    for (const id of removed) {
      void (this.#stops.get(id) ?? Promise.resolve()).then(() => {
        if (!Object.hasOwn(this.#config.models, id)) this.#processes.delete(id);
      });
    }
    this.#scheduler.reconfigure(setup.planner, schedulerSettings(config), now);
    for (const id of changed) this.#scheduler.restart(id, now);
    return { added, changed, removed };
  }

  /** Kill every model's process group at once (second Ctrl-C). */
  kill(): void {
    for (const process of this.#processes.values()) process.kill();
  }

  #addProcess(spec: UpstreamSpec): void {
    const { log } = this.#deps;
    this.#processes.set(spec.id, this.#deps.processes(spec, {
      log: (level, message) => log[level](message),
      onCrash: (model, reason) => this.#observer.crashed(model, reason),
      onState: (model, from, to) => {
        log.debug(`${model}: ${from} -> ${to}`);
        this.#observer.modelState(model, from, to);
        if (to === "stopped") this.#scheduler.modelStopped(model, this.#clock.now());
      },
    }));
  }

  #effects(): Effects {
    return {
      isReady: (model) => this.state(model) === "ready",
      runningModels: () =>
        [...this.#processes].filter(([, p]) => p.state !== "stopped" && p.state !== "failed").map(([id]) => id).sort(),
      startSwap: (plan) => void this.#swap(plan),
      grant: (id, model) => this.#grant(id, model),
      fail: (id, error) => {
        const pending = this.#pending.get(id);
        if (!pending) return;
        this.#pending.delete(id);
        pending.detach();
        pending.reject(httpError(error));
      },
      stopModels: (models, reason) => {
        for (const model of models) this.#stop(model, reason);
      },
      setTimer: (at) => {
        this.#cancelWake();
        this.#cancelWake = at === null ? () => {} : this.#clock.wakeAt(at, () => this.#scheduler.tick(this.#clock.now()));
      },
      queuePosition: (id, position) => this.#pending.get(id)?.onPosition?.(position),
      debug: (message) => this.#deps.log.debug(`scheduler: ${message}`),
    };
  }

  #grant(id: RequestId, model: string): boolean {
    const pending = this.#pending.get(id);
    if (!pending || pending.signal.aborted) return false;
    this.#pending.delete(id);
    pending.detach();
    const connection = this.#processes.get(model)?.connection();
    if (!connection) {
      pending.reject(new ModelswapError(502, "upstream_stopped", `model "${model}" stopped just before it could serve this request; send it again`, { model }));
      return false;
    }
    let released = false;
    pending.resolve({
      ...connection,
      model,
      release: () => {
        if (released) return;
        released = true;
        this.#scheduler.serveDone(id, this.#clock.now());
        this.#observer.loadChanged();
      },
    });
    return true;
  }

  async #swap(plan: SwapPlan): Promise<void> {
    const { log } = this.#deps;
    const started = this.#clock.now();
    const evicting = plan.evict.length ? `, stopping ${plan.evict.join(", ")}` : "";
    log.info(`${plan.target}: loading${evicting} (${plan.reason})`);
    this.#observer.swapStarted(plan);
    let error: ModelswapError | null = null;
    try {
      await Promise.all(plan.evict.map((model) => this.#stop(model)));
      await this.#processes.get(plan.target)!.ensureReady();
      log.info(`${plan.target}: ready in ${this.#clock.now() - started} ms`);
    } catch (cause) {
      error = cause instanceof ModelswapError
        ? cause
        : new ModelswapError(502, "upstream_start_failed", `model "${plan.target}" failed to start: ${cause}`, { model: plan.target });
      log.warn(`${plan.target}: failed to load after ${this.#clock.now() - started} ms: ${error.message.split("\n")[0]}`);
    }
    this.#observer.swapFinished(plan, this.#clock.now() - started, error?.message ?? null);
    this.#scheduler.swapDone(plan.id, error, this.#clock.now());
    this.#observer.loadChanged();
  }

  /** Stop a model's process; concurrent stops share one. */
  #stop(model: string, reason?: StopReason): Promise<void> {
    const process = this.#processes.get(model);
    if (!process) return Promise.resolve();
    if (reason === "ttl") this.#deps.log.info(`${model}: unloaded after ${this.#config.models[model]?.ttl}s idle (ttl)`);
    if (reason === "restart") this.#deps.log.info(`${model}: settings changed; restarting it with the new settings`);
    let stopping = this.#stops.get(model);
    if (!stopping) {
      stopping = process.stop().finally(() => this.#stops.delete(model));
      this.#stops.set(model, stopping);
    }
    return stopping;
  }
}
