/**
 * Binds the pure scheduler to the world. The scheduler decides; the router
 * carries its effects out on the model processes and resolves the client
 * promises, and turns what happens (a swap done, a request served, a process
 * stopped, a client gone) back into scheduler events. It keeps no timers and
 * no decisions of its own.
 */
import { type Clock, SYSTEM_CLOCK } from "./clock.ts";
import type { Config } from "./config/schema.ts";
import { ModelswapError, toModelswapError } from "./errors.ts";
import type { Lease, Ticket } from "./lease.ts";
import type { Logger } from "./logging/logger.ts";
import { NO_OBSERVER, type Observer } from "./observer.ts";
import type { Effects, Planner, RequestId, StopReason, SwapPlan } from "./scheduler/effects.ts";
import { Scheduler } from "./scheduler/scheduler.ts";
import { ProcessTable, type SpecChanges } from "./processes.ts";
import { schedulerSettings, upstreamSpecs } from "./setup.ts";
import type { UpstreamSpec } from "./upstream/spec.ts";
import type { ModelState } from "./upstream/state.ts";
import type { LifecycleRunner, StopReport } from "./upstream/lifecycle.ts";
import type { SwapContext } from "./observer.ts";
import type { ModelProcess, ProcessStatus, UpstreamHooks } from "./upstream/upstream.ts";
import { Waiters } from "./waiters.ts";

/** Per-model facts for `/running` and `/api/status`. */
export interface ModelStatus extends ProcessStatus {
  model: string;
  inFlight: number;
  queued: number;
}

/** What the router needs besides the config. */
export interface RouterDeps {
  log: Logger;
  /** Creates the process of one model (an `Upstream` in production). */
  processes(spec: UpstreamSpec, hooks: UpstreamHooks): ModelProcess;
  /** Metrics, events and activity (default: none). */
  observer?: Observer;
  /** Default: the wall clock. */
  clock?: Clock;
  /** Carries out the steps around each start and planned stop (context, hooks); default: none. */
  lifecycle?: LifecycleRunner;
}

/** The router: one per running server; a config reload reconfigures it. */
export class Router {
  #config: Config;
  readonly #deps: RouterDeps;
  readonly #clock: Clock;
  readonly #observer: Observer;
  readonly #processes: ProcessTable;
  readonly #waiters = new Waiters<Lease>();
  readonly #scheduler: Scheduler;
  #cancelWake = () => {};
  #nextId = 1;
  #closed = false;

  constructor(setup: { config: Config; planner: Planner }, deps: RouterDeps) {
    this.#config = setup.config;
    this.#deps = deps;
    this.#clock = deps.clock ?? SYSTEM_CLOCK;
    this.#observer = deps.observer ?? NO_OBSERVER;
    this.#processes = new ProcessTable(upstreamSpecs(setup.config), (spec) => this.#createProcess(spec));
    this.#scheduler = new Scheduler(setup.planner, this.#effects(), schedulerSettings(setup.config));
  }

  /** The config this router serves. */
  get config(): Config {
    return this.#config;
  }

  /** A model's process state (advisory), or undefined for an unknown id. */
  state(model: string): ModelState | undefined {
    return this.#processes.state(model);
  }

  /**
   * Admit a request for `model` (a resolved model id). Throws a
   * ModelswapError synchronously when it is refused at admission (404, 429,
   * 503), before any response byte is written.
   */
  request(model: string, signal: AbortSignal, onPosition?: (position: number) => void): Ticket {
    if (this.#closed) throw new ModelswapError(503, "shutting_down", "modelswap is shutting down; retry against the new instance");
    const never = this.#processes.unstartable(model);
    if (never) throw never;
    const id = this.#nextId++;
    const mustWait = this.state(model) !== "ready";
    const lease = this.#waiters.add(id, model, signal, () => {
      // The client left before its grant: it leaves the scheduler too.
      this.#scheduler.cancel(id, this.#clock.now());
      this.#observer.loadChanged();
    }, onPosition);
    const admission = this.#scheduler.request(id, model, this.#clock.now());
    if (!admission.ok) {
      this.#waiters.drop(id);
      throw toModelswapError(admission.error);
    }
    this.#observer.loadChanged();
    if (signal.aborted) this.#waiters.cancel(id);
    return { lease, mustWait };
  }

  /**
   * A lease for a static asset of a loaded model (`upstream.ignorePaths`):
   * it neither loads the model nor takes a slot. 409 when it is not loaded.
   */
  assetLease(model: string, path: string): Lease {
    const connection = this.#processes.connection(model);
    if (!connection) {
      throw new ModelswapError(409, "model_not_loaded", `model "${model}" is not loaded; ${path} does not load it (upstream.ignorePaths)`, { model });
    }
    return { ...connection, model, release: () => {} };
  }

  /** Stop models (all when `"all"`) and fail what waits for them; resolves when stopped. */
  async unload(models: string[] | "all"): Promise<void> {
    this.#scheduler.unload(models, this.#clock.now());
    await this.#processes.stopped(models);
  }

  /**
   * Keep `model` loaded for `ttlMs` once idle, in place of its configured
   * ttl until it next stops (Ollama's `keep_alive`): 0 unloads it as soon as
   * it is idle, a negative value keeps it for ever.
   */
  keepAlive(model: string, ttlMs: number): void {
    this.#scheduler.keepAlive(model, ttlMs, this.#clock.now());
  }

  /** Load a model as if a request came in and finished at once (preload, UI "load"). */
  async load(model: string): Promise<void> {
    const ticket = this.request(model, new AbortController().signal);
    (await ticket.lease).release();
  }

  /** Per-model status, sorted by id. */
  status(): ModelStatus[] {
    const { inFlight, waiting } = this.#scheduler.snapshot();
    return this.#processes.status()
      .map((process) => ({ ...process, inFlight: inFlight[process.model] ?? 0, queued: waiting[process.model] ?? 0 }))
      .sort((a, b) => a.model.localeCompare(b.model));
  }

  /** Refuse new requests, fail waiting ones, stop every model and wait until all are reaped. */
  async shutdown(): Promise<void> {
    this.#closed = true;
    this.#scheduler.shutdown(this.#clock.now());
    await this.#processes.stopAll();
  }

  /**
   * Apply a reloaded (already validated) config. Unchanged models keep
   * running and serving; a changed model restarts with its new settings once
   * its in-flight requests are done; removed models stop; new ones appear
   * (one removed a moment ago and still stopping comes back as itself).
   */
  reconfigure(setup: { config: Config; planner: Planner }): SpecChanges {
    const { config } = setup;
    const now = this.#clock.now();
    const removed = Object.keys(this.#config.models).filter((id) => !Object.hasOwn(config.models, id));
    this.#config = config;
    if (removed.length) this.#scheduler.unload(removed, now);
    const changes = this.#processes.apply(upstreamSpecs(config));
    this.#scheduler.reconfigure(setup.planner, schedulerSettings(config), now);
    for (const id of changes.changed) this.#scheduler.restart(id, now);
    return changes;
  }

  /** Delete a model's saved context (keepContext). */
  async forgetContext(model: string): Promise<void> {
    await this.#deps.lifecycle?.forget(model);
  }

  /** Kill every model's process group at once (second Ctrl-C). */
  kill(): void {
    this.#processes.kill();
  }

  #createProcess(spec: UpstreamSpec): ModelProcess {
    const { log } = this.#deps;
    return this.#deps.processes(spec, {
      lifecycle: this.#deps.lifecycle,
      log: (level, message) => log[level](message),
      onCrash: (model, reason) => this.#observer.crashed(model, reason),
      onState: (model, from, to) => {
        log.debug(`${model}: ${from} -> ${to}`);
        this.#observer.modelState(model, from, to);
        if (to === "stopped") this.#scheduler.modelStopped(model, this.#clock.now());
      },
    });
  }

  #effects(): Effects {
    return {
      isReady: (model) => this.state(model) === "ready",
      runningModels: () => this.#processes.running(),
      startSwap: (plan) => void this.#swap(plan),
      grant: (id, model) => this.#waiters.grant(id, () => this.#lease(id, model)),
      fail: (id, error) => this.#waiters.fail(id, toModelswapError(error)),
      stopModels: (models, reason) => {
        for (const model of models) this.#stop(model, reason);
      },
      setTimer: (at) => {
        this.#cancelWake();
        this.#cancelWake = at === null ? () => {} : this.#clock.wakeAt(at, () => this.#scheduler.tick(this.#clock.now()));
      },
      queuePosition: (id, position) => this.#waiters.position(id, position),
      debug: (message) => this.#deps.log.debug(`scheduler: ${message}`),
    };
  }

  /** The lease of a granted request, or the error when its process stopped a moment ago. */
  #lease(id: RequestId, model: string): Lease | ModelswapError {
    const connection = this.#processes.connection(model);
    if (!connection) return new ModelswapError(502, "upstream_stopped", `model "${model}" stopped just before it could serve this request; send it again`, { model });
    let released = false;
    return {
      ...connection,
      model,
      release: () => {
        if (released) return;
        released = true;
        this.#scheduler.serveDone(id, this.#clock.now());
        this.#observer.loadChanged();
      },
    };
  }

  async #swap(plan: SwapPlan): Promise<void> {
    const { log } = this.#deps;
    const started = this.#clock.now();
    const evicting = plan.evict.length ? `, stopping ${plan.evict.join(", ")}` : "";
    log.info(`${plan.target}: loading${evicting} (${plan.reason})`);
    this.#observer.swapStarted(plan);
    let error: ModelswapError | null = null;
    const context: SwapContext = { saved: {}, restored: null };
    try {
      await Promise.all(plan.evict.map(async (model) => {
        const saved = (await this.#stop(model))?.context;
        if (saved) context.saved[model] = saved;
      }));
      context.restored = (await this.#processes.ensureReady(plan.target)).context;
      const restored = context.restored ? ` (its context restored: ${context.restored.tokens} tokens in ${context.restored.ms} ms)` : "";
      log.info(`${plan.target}: ready in ${this.#clock.now() - started} ms${restored}`);
    } catch (cause) {
      error = cause instanceof ModelswapError
        ? cause
        : new ModelswapError(502, "upstream_start_failed", `model "${plan.target}" failed to start: ${cause}`, { model: plan.target });
      log.warn(`${plan.target}: failed to load after ${this.#clock.now() - started} ms: ${error.message.split("\n")[0]}`);
    }
    this.#observer.swapFinished(plan, this.#clock.now() - started, error?.message ?? null, context);
    this.#scheduler.swapDone(plan.id, error, this.#clock.now());
    this.#observer.loadChanged();
  }

  /**
   * Stop a model's process, saying why in the log when it is not plain to
   * see, and telling clients whose requests the stop cuts what happened.
   */
  async #stop(model: string, reason?: StopReason): Promise<StopReport | void> {
    const { log } = this.#deps;
    if (reason === "ttl") log.info(`${model}: unloaded after ${this.#config.models[model]?.ttl}s idle (ttl)`);
    if (reason === "keep-alive") log.info(`${model}: unloaded: the keep_alive its client asked for ran out`);
    if (reason === "restart") log.info(`${model}: settings changed; restarting it with the new settings`);
    const report = await this.#processes.stop(model, this.#why(model, reason));
    const saved = report?.context;
    if (saved) log.info(`${model}: its context kept: ${saved.tokens} tokens (${saved.bytes} bytes) saved in ${saved.ms} ms`);
    return report;
  }

  /** What a client whose request a stop cuts is told. */
  #why(model: string, reason: StopReason | undefined): string {
    if (reason === "shutdown") return "modelswap is shutting down";
    if (reason === "restart") return "it restarts with new settings; send the request again";
    if (!Object.hasOwn(this.#config.models, model)) return "it was removed from the config by a reload and is no longer served";
    if (reason === "unload") return "it was unloaded; send the request again to load it";
    return "another model needed its place; send the request again";
  }
}
