/**
 * Binds the pure scheduler to the world: it owns the upstream processes,
 * turns scheduler effects into process actions and promises, and turns
 * process outcomes and client disconnects back into scheduler events.
 */
import type { Config } from "./config/schema.ts";
import { ModelswapError } from "./errors.ts";
import type { LogHub, Logger } from "./logger.ts";
import { NO_OBSERVER, type Observer } from "./observer.ts";
import type { Runtime } from "./runtime/runtime.ts";
import type { Effects, ModelState, RequestId, SwapPlan } from "./scheduler/effects.ts";
import { buildPlanner } from "./scheduler/planners/build.ts";
import { Scheduler, type SchedulerSettings } from "./scheduler/scheduler.ts";
import { splitCommand } from "./upstream/command.ts";
import type { LogFiles } from "./upstream/logfile.ts";
import { type GroupTracker, Upstream, type UpstreamSpec } from "./upstream/upstream.ts";

/** The right to send requests to a ready upstream; release it exactly once. */
export interface Lease {
  model: string;
  upstream: Upstream;
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
export interface ModelStatus {
  model: string;
  state: ModelState;
  pid: number | null;
  baseUrl: string;
  inFlight: number;
  queued: number;
  restarts: number;
  lastExit: string | null;
  uptimeMs: number | null;
}

interface Pending {
  model: string;
  signal: AbortSignal;
  resolve(lease: Lease): void;
  reject(error: ModelswapError): void;
  onPosition?: (position: number) => void;
  detach(): void;
}

/** Options the router needs besides the config. */
export interface RouterDeps {
  runtime: Runtime;
  logs: LogHub;
  log: Logger;
  groups?: GroupTracker;
  /** Metrics, events and activity (default: none). */
  observer?: Observer;
  /** Per-model log files (`logDir`), or none. */
  logFiles?: LogFiles;
}

/** Builds the upstream spec of one configured model. */
export function upstreamSpec(config: Config, id: string): UpstreamSpec {
  const model = config.models[id];
  return {
    id,
    argv: splitCommand(model.cmd),
    stopArgv: model.cmdStop ? splitCommand(model.cmdStop) : null,
    env: model.env,
    baseUrl: model.proxy.replace(/\/+$/, ""),
    port: model.port,
    checkEndpoint: model.checkEndpoint === "none" ? null : model.checkEndpoint,
    healthCheckTimeoutMs: config.healthCheckTimeout * 1000,
    unloadTimeoutMs: model.unloadTimeout * 1000,
    supervision: {
      maxFailures: config.supervision.maxFailures,
      failureWindowMs: config.supervision.failureWindow * 1000,
      probeIntervalMs: config.supervision.probeInterval * 1000,
      probeTimeoutMs: config.supervision.probeTimeout * 1000,
      hungAfter: config.supervision.hungAfter,
    },
  };
}

/** Scheduler settings derived from the config. */
export function schedulerSettings(config: Config): SchedulerSettings {
  const { scheduler } = config.routing;
  return {
    isKnown: (model) => model in config.models,
    limitFor: (model) => config.models[model]?.concurrencyLimit ?? 10,
    priorityFor: (model) => scheduler.priority[model] ?? 0,
    starvationTimeoutMs: scheduler.starvationTimeout * 1000,
    maxQueue: scheduler.maxQueue,
  };
}

/** The router: one per running config. */
export class Router {
  #config: Config;
  readonly #deps: RouterDeps;
  readonly #upstreams = new Map<string, Upstream>();
  readonly #pending = new Map<RequestId, Pending>();
  readonly #stops = new Map<string, Promise<void>>();
  readonly #ttlTimers = new Map<string, ReturnType<typeof setTimeout>>();
  /** Models whose settings changed while running: loaded again once the scheduler has stopped them. */
  readonly #reloadAfterStop = new Set<string>();
  readonly #scheduler: Scheduler;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #nextId = 1;
  #closed = false;
  readonly #observer: Observer;

  constructor(config: Config, deps: RouterDeps) {
    this.#config = config;
    this.#deps = deps;
    this.#observer = deps.observer ?? NO_OBSERVER;
    for (const id of Object.keys(config.models)) this.#addUpstream(id);
    const planner = buildPlanner(config.routing, Object.keys(config.models), config.routing.pathPrefix);
    this.#scheduler = new Scheduler(planner, this.#effects(), schedulerSettings(config));
  }

  /** The config this router serves. */
  get config(): Config {
    return this.#config;
  }

  /** The upstream of a model id, if configured. */
  upstream(model: string): Upstream | undefined {
    return this.#upstreams.get(model);
  }

  /**
   * Admit a request for `model` (a resolved model id). Throws a
   * ModelswapError synchronously when it is refused at admission (404, 429,
   * 503), before any response byte is written.
   */
  request(model: string, signal: AbortSignal, onPosition?: (position: number) => void): Ticket {
    if (this.#closed) throw new ModelswapError(503, "shutting_down", "modelswap is shutting down; retry against the new instance");
    const id = this.#nextId++;
    const mustWait = this.#upstreams.get(model)?.state !== "ready";
    let pending!: Pending;
    const lease = new Promise<Lease>((resolve, reject) => {
      pending = { model, signal, resolve, reject, onPosition, detach: () => signal.removeEventListener("abort", cancel) };
    });
    lease.catch(() => {}); // a rejection nobody awaits (client gone) is not an error
    /** The client left before its grant: leave the scheduler, exactly once. */
    const cancel = () => {
      if (!this.#pending.delete(id)) return;
      pending.detach();
      this.#scheduler.cancel(id, Date.now());
      this.#observer.loadChanged();
      pending.reject(new ModelswapError(499, "client_closed", `client closed the request for model "${model}" while it waited`, { model }));
    };
    signal.addEventListener("abort", cancel, { once: true });
    this.#pending.set(id, pending);
    const admission = this.#scheduler.request(id, model, Date.now());
    if (!admission.ok) {
      this.#pending.delete(id);
      pending.detach();
      throw admission.error;
    }
    this.#observer.loadChanged();
    if (signal.aborted) cancel();
    return { lease, mustWait };
  }

  /** Stop models (all when `"all"`) and fail what waits for them; resolves when stopped. */
  async unload(models: string[] | "all"): Promise<void> {
    for (const id of models === "all" ? [...this.#reloadAfterStop] : models) this.#reloadAfterStop.delete(id);
    this.#scheduler.unload(models, Date.now());
    const ids = models === "all" ? [...this.#upstreams.keys()] : models;
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
    return [...this.#upstreams.values()].map((u) => ({
      model: u.spec.id,
      state: u.state,
      pid: u.pid,
      baseUrl: u.spec.baseUrl,
      inFlight: snap.inFlight[u.spec.id] ?? 0,
      queued: queued.get(u.spec.id) ?? 0,
      restarts: u.restarts,
      lastExit: u.lastExit,
      uptimeMs: u.uptimeMs(),
    })).sort((a, b) => a.model.localeCompare(b.model));
  }

  /** Refuse new requests, fail waiting ones, stop every upstream and wait until all are reaped. */
  async shutdown(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    for (const timer of this.#ttlTimers.values()) clearTimeout(timer);
    this.#scheduler.shutdown(Date.now());
    await Promise.all([...this.#upstreams.values()].map((u) => u.stop()));
  }

  /**
   * Apply a reloaded (already validated) config. Unchanged models keep
   * running and serving; a changed model restarts with its new settings once
   * its in-flight requests are done; removed models stop; new ones appear.
   */
  reconfigure(config: Config): { added: string[]; changed: string[]; removed: string[] } {
    const added: string[] = [];
    const changed: string[] = [];
    const removed = Object.keys(this.#config.models).filter((id) => !(id in config.models));
    const now = Date.now();
    if (removed.length) this.#scheduler.unload(removed, now);
    this.#config = config;
    for (const id of Object.keys(config.models)) {
      const upstream = this.#upstreams.get(id);
      if (!upstream) {
        this.#addUpstream(id);
        added.push(id);
        continue;
      }
      const spec = upstreamSpec(config, id);
      if (JSON.stringify(spec) === JSON.stringify(upstream.configuredSpec)) continue;
      upstream.updateSpec(spec);
      changed.push(id);
      if (upstream.state !== "stopped" && upstream.state !== "failed") this.#reloadAfterStop.add(id);
    }
    for (const id of removed) {
      const stopped = this.#stops.get(id) ?? Promise.resolve();
      void stopped.then(() => this.#upstreams.delete(id));
    }
    const planner = buildPlanner(config.routing, Object.keys(config.models), config.routing.pathPrefix);
    this.#scheduler.reconfigure(planner, schedulerSettings(config), now);
    for (const id of this.#reloadAfterStop) this.#scheduler.restart(id, now);
    return { added, changed, removed };
  }

  /** Kill every upstream group at once (second Ctrl-C). */
  kill(): void {
    for (const u of this.#upstreams.values()) {
      if (u.pid !== null) this.#deps.runtime.killGroup(u.pid, "SIGKILL");
    }
  }

  #addUpstream(id: string): void {
    const { runtime, logs, log, groups } = this.#deps;
    this.#deps.logFiles?.attach(id, logs.model(id));
    const upstream = new Upstream(upstreamSpec(this.#config, id), runtime, logs.model(id), {
      groups,
      log: (level, message) => log[level](message),
      onCrash: (model, reason) => this.#observer.crashed(model, reason),
      onState: (model, from, to) => {
        log.debug(`${model}: ${from} -> ${to}`);
        this.#observer.modelState(model, from, to);
        if (to === "ready") this.#armTtl(model);
        if (to === "stopped") this.#scheduler.poke(Date.now());
      },
    });
    this.#upstreams.set(id, upstream);
  }

  #effects(): Effects {
    return {
      modelState: (model) => this.#upstreams.get(model)?.state ?? "stopped",
      runningModels: () =>
        [...this.#upstreams.values()]
          .filter((u) => u.state !== "stopped" && u.state !== "failed")
          .map((u) => u.spec.id)
          .sort(),
      startSwap: (plan) => void this.#swap(plan),
      grant: (id, model) => this.#grant(id, model),
      fail: (id, error) => {
        const pending = this.#pending.get(id);
        if (!pending) return;
        this.#pending.delete(id);
        pending.detach();
        pending.reject(error);
      },
      stopModels: (models) => {
        for (const model of models) this.#stopModel(model);
      },
      setTimer: (at) => {
        clearTimeout(this.#timer);
        if (at !== null) {
          this.#timer = setTimeout(() => this.#scheduler.tick(Date.now()), Math.max(0, at - Date.now()));
        }
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
    this.#clearTtl(model);
    let released = false;
    pending.resolve({
      model,
      upstream: this.#upstreams.get(model)!,
      release: () => {
        if (released) return;
        released = true;
        this.#scheduler.serveDone(id, Date.now());
        this.#observer.loadChanged();
        if (this.#scheduler.inFlight(model) > 0) return;
        this.#armTtl(model);
      },
    });
    return true;
  }

  async #swap(plan: SwapPlan): Promise<void> {
    const { log } = this.#deps;
    const started = Date.now();
    const evicting = plan.evict.length ? `, stopping ${plan.evict.join(", ")}` : "";
    log.info(`${plan.target}: loading${evicting} (${plan.reason})`);
    this.#observer.swapStarted(plan);
    let error: ModelswapError | null = null;
    try {
      await Promise.all(plan.evict.map((model) => this.#stopModel(model)));
      await this.#upstreams.get(plan.target)!.ensureReady();
      log.info(`${plan.target}: ready in ${Date.now() - started} ms`);
    } catch (cause) {
      error = cause instanceof ModelswapError
        ? cause
        : new ModelswapError(502, "upstream_start_failed", `model "${plan.target}" failed to start: ${cause}`, { model: plan.target });
      log.warn(`${plan.target}: failed to load after ${Date.now() - started} ms: ${error.message.split("\n")[0]}`);
    }
    this.#observer.swapFinished(plan, Date.now() - started, error?.message ?? null);
    this.#scheduler.swapDone(plan.id, error, Date.now());
    this.#observer.loadChanged();
  }

  #stopModel(model: string): Promise<void> {
    const upstream = this.#upstreams.get(model);
    if (!upstream) return Promise.resolve();
    this.#clearTtl(model);
    let stopping = this.#stops.get(model);
    if (!stopping) {
      stopping = upstream.stop().finally(() => {
        this.#stops.delete(model);
        this.#scheduler.poke(Date.now());
        if (this.#reloadAfterStop.delete(model) && !this.#closed) this.#reload(model);
      });
      this.#stops.set(model, stopping);
    }
    return stopping;
  }

  /** Start a model again after a config change stopped it (its queued requests may have already). */
  #reload(model: string): void {
    this.#deps.log.info(`${model}: settings changed; restarting it with the new settings`);
    this.load(model).catch((error) => {
      this.#deps.log.warn(`${model}: restart after config change failed: ${error instanceof Error ? error.message.split("\n")[0] : error}`);
    });
  }

  #armTtl(model: string): void {
    this.#clearTtl(model);
    const ttl = this.#config.models[model]?.ttl ?? 0;
    if (ttl <= 0 || this.#closed) return;
    this.#ttlTimers.set(model, setTimeout(() => {
      this.#ttlTimers.delete(model);
      if (this.#scheduler.idle(model, Date.now())) {
        this.#deps.log.info(`${model}: unloaded after ${ttl}s idle (ttl)`);
      }
    }, ttl * 1000));
  }

  #clearTtl(model: string): void {
    clearTimeout(this.#ttlTimers.get(model));
    this.#ttlTimers.delete(model);
  }
}
