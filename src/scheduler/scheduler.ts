/**
 * The pure scheduler: the one owner of every decision about when a model
 * starts, stops or restarts. Admission, the wait queue, swaps, in-flight
 * bookkeeping, the starvation timeout, TTL expiry and restarts after a
 * config change all live here, on the clock the events carry (`now`). It
 * reacts to events by calling Effects synchronously; it owns no timers, does
 * no I/O and never awaits, so a test drives it with a fake clock and fake
 * effects.
 *
 * It follows llama-swap's FIFO scheduler (decision tree, collation of queued
 * requests into one swap per model, priority queue) and adds a starvation
 * timeout: once the oldest queued request has waited `starvationTimeoutMs`,
 * the models its swap would stop take no new work until they drain, then the
 * swap runs. No request then waits longer than the timeout plus the longest
 * in-flight request it must outwait plus the swap.
 */
import type { Effects, PlanContext, Planner, RequestId, StopReason, SwapPlan } from "./effects.ts";
import { overLimit, queueFull, removedModel, type SchedulerError, shuttingDown, unknownModel, unloaded } from "./refusal.ts";

/** Per-model and global knobs the scheduler reads (from the config). */
export interface SchedulerSettings {
  /** Is this a configured local model id (aliases already resolved by the caller)? */
  isKnown(model: string): boolean;
  /** concurrencyLimit: queued + starting + serving requests admitted per model. */
  limitFor(model: string): number;
  /** Higher is served earlier among queued requests; FIFO among equals. Default 0. */
  priorityFor(model: string): number;
  /** ms a ready model may stay idle before it is stopped (its `ttl`); 0 = never. */
  ttlFor(model: string): number;
  /** ms; 0 disables the starvation timeout. Default config value 30 s. */
  starvationTimeoutMs: number;
  /** Global cap on queued requests (default 1000); full → 503 with Retry-After. */
  maxQueue: number;
}

/** Outcome of admission, decided synchronously. */
export type Admission = { ok: true } | { ok: false; error: SchedulerError };

/** Advisory view of the scheduler's state (status API, tests). Zero counters are omitted. */
export interface SchedulerSnapshot {
  /** Queued requests in service order. */
  queued: Array<{ id: RequestId; model: string; since: number; position: number }>;
  /** Granted requests not yet finished, per model. */
  inFlight: Record<string, number>;
  /** Admitted requests not yet finished (queued, waiting on a swap or in flight), per model. */
  reserved: Record<string, number>;
  /** Swaps in progress. */
  swaps: Array<{ id: number; target: string; evict: string[]; waiters: number }>;
  /** Client requests waiting for each model: queued, or waiting on its swap. */
  waiting: Record<string, number>;
  /** The starved request whose swap is being cleared (`holding`: models taking no new work), if any. */
  starving: { id: RequestId; model: string; holding: string[] } | null;
}

type Stage = "queued" | "waiting" | "granted";

interface Admitted {
  id: RequestId;
  model: string;
  since: number;
  priority: number;
  stage: Stage;
  /** Last position reported through `queuePosition` (0 = none yet). */
  position: number;
  swap: Swap | null;
  /** The scheduler's own request (a restart's load): no client to grant or fail. */
  internal: boolean;
}

interface Swap {
  plan: SwapPlan;
  waiters: Admitted[];
}

/** The starved request and the running models its swap would stop. */
interface Fence {
  request: Admitted;
  evict: ReadonlySet<string>;
}

type Decision =
  | { kind: "join"; swap: Swap }
  | { kind: "grant" }
  | { kind: "start"; evict: string[] }
  | { kind: "wait"; why: string };

const list = (models: Iterable<string>): string => `[${[...models].join(", ")}]`;

function increment(counter: Map<string, number>, model: string, by: number): number {
  const value = (counter.get(model) ?? 0) + by;
  if (value === 0) counter.delete(model);
  else counter.set(model, value);
  return value;
}

/** The scheduler state machine. One instance per router; every method is synchronous. */
export class Scheduler {
  #planner: Planner;
  #settings: SchedulerSettings;
  readonly #effects: Effects;

  readonly #requests = new Map<RequestId, Admitted>();
  #queue: Admitted[] = [];
  readonly #swaps = new Map<number, Swap>();
  readonly #swapFor = new Map<string, Swap>();
  /** Models to restart with new settings once their in-flight requests are done (config reload). */
  readonly #restarting = new Set<string>();
  /** Models stopped for a restart: started again once their stop is reported. */
  readonly #startAfterStop = new Set<string>();
  readonly #inFlight = new Map<string, number>();
  readonly #reserved = new Map<string, number>();
  /** When each ready, idle model with a ttl became idle. */
  readonly #idleSince = new Map<string, number>();
  /** ttl a client asked for (Ollama's `keep_alive`), in place of the configured one until the model stops. */
  readonly #ttlOverride = new Map<string, number>();
  /** When each model last started or finished serving (for planners). */
  readonly #lastUsed = new Map<string, number>();
  readonly #context: PlanContext = {
    lastUsed: (model) => this.#lastUsed.get(model) ?? 0,
    inFlight: (model) => this.#inFlight.get(model) ?? 0,
  };
  #fence: Fence | null = null;
  #nextSwapId = 1;
  #nextInternalId = -1;
  #closed = false;
  #timerAt: number | null = null;
  #draining = false;
  #drainAgain = false;
  /** The `now` of the event being handled. */
  #now = 0;

  // Per-event memo of the running set and planner answers; reset whenever it may be stale.
  #runningBase: string[] | null = null;
  #running: string[] | null = null;
  readonly #evictions = new Map<string, string[]>();
  readonly #fenceEvicts = new Map<string, boolean>();

  /** `planner` decides evictions, `effects` acts on the world, `settings` come from the config. */
  constructor(planner: Planner, effects: Effects, settings: SchedulerSettings) {
    this.#planner = planner;
    this.#effects = effects;
    this.#settings = settings;
  }

  /**
   * Admits a request for `model` or refuses it (404 unknown, 429 concurrency
   * limit, 503 queue full or shutting down), then serves, joins, starts a swap
   * or queues it. A grant or start may happen before this returns. Ids must
   * be unique for the scheduler's lifetime.
   */
  request(id: RequestId, model: string, now: number): Admission {
    if (this.#requests.has(id)) throw new Error(`scheduler: request id ${id} was admitted twice`);
    if (this.#closed) return { ok: false, error: shuttingDown(model) };
    if (!this.#settings.isKnown(model)) return { ok: false, error: unknownModel(model) };
    // A request uses its model: a ttl that ran out a moment ago does not stop it under the request.
    this.#idleSince.delete(model);
    return this.#event(now, (): Admission => {
      const limit = this.#settings.limitFor(model);
      if ((this.#reserved.get(model) ?? 0) >= limit) return { ok: false, error: overLimit(model, limit) };
      this.#forgetView();
      const decision = this.#decide(model, this.#fence);
      if (decision.kind === "wait" && this.#queue.length >= this.#settings.maxQueue) {
        this.#markIdle(model);
        return { ok: false, error: queueFull(model, this.#queue.length) };
      }
      this.#admit(id, model, decision, false);
      return { ok: true };
    });
  }

  /**
   * The client left. A queued or waiting request is dropped and its
   * reservation released; a swap it started keeps running. No-op for unknown
   * ids and for granted requests (those end with serveDone).
   */
  cancel(id: RequestId, now: number): void {
    this.#event(now, () => {
      const request = this.#requests.get(id);
      if (!request || request.stage === "granted") return;
      const wasStarving = this.#fence?.request === request;
      this.#drop(request);
      this.#release(request);
      if (wasStarving) this.#drain();
      this.#markIdle(request.model);
    });
  }

  /** A swap finished: grant its waiters (or forward its error to them), then drain the queue. */
  swapDone(swapId: number, error: Error | null, now: number): void {
    this.#event(now, () => {
      const swap = this.#swaps.get(swapId);
      if (swap) {
        this.#forget(swap);
        for (const waiter of swap.waiters) {
          if (waiter.stage !== "waiting") continue;
          waiter.swap = null;
          if (error) this.#fail(waiter, error);
          else this.#grant(waiter);
        }
        this.#restartIfIdle(swap.plan.target);
        this.#markIdle(swap.plan.target);
      }
      this.#drain();
    });
  }

  /** A granted request finished (any outcome); when its model goes idle the queue drains. Idempotent. */
  serveDone(id: RequestId, now: number): void {
    this.#event(now, () => {
      const request = this.#requests.get(id);
      if (!request || request.stage !== "granted") return;
      this.#release(request);
      this.#lastUsed.set(request.model, now);
      if (increment(this.#inFlight, request.model, -1) === 0) {
        this.#restartIfIdle(request.model);
        this.#drain();
        this.#markIdle(request.model);
      }
    });
  }

  /**
   * A model's process stopped: a planned stop finished, it crashed, or its
   * start failed. A model stopped for a restart is started again; the queue
   * drains (a swap that had to wait for this stop may start now).
   */
  modelStopped(model: string, now: number): void {
    this.#event(now, () => {
      this.#idleSince.delete(model);
      this.#ttlOverride.delete(model);
      if (this.#startAfterStop.delete(model) && !this.#closed && this.#settings.isKnown(model)) {
        if ((this.#reserved.get(model) ?? 0) === 0) {
          this.#effects.debug?.(`restart "${model}": stopped; starting it with its new settings`);
          this.#admit(this.#nextInternalId--, model, this.#decide(model, this.#fence), true);
        }
      }
      this.#drain();
    });
  }

  /**
   * Fails waiting and queued requests for these models (503 model_unloaded),
   * forgets their swaps, stops the models, then drains. "all" = every running
   * model and every swap target. Requests in flight are not waited for.
   */
  unload(models: string[] | "all", now: number): void {
    if (this.#closed) return;
    this.#event(now, () => {
      const targets = [...new Set(models === "all" ? this.#currentRunning() : models)];
      const unloadedModels = new Set(targets);
      for (const model of unloadedModels) {
        this.#restarting.delete(model);
        this.#startAfterStop.delete(model);
      }
      for (const swap of [...this.#swaps.values()]) {
        if (!unloadedModels.has(swap.plan.target)) continue;
        this.#forget(swap);
        for (const waiter of swap.waiters) {
          if (waiter.stage === "waiting") this.#fail(waiter, unloaded(waiter.model));
        }
      }
      for (const request of this.#queue.filter((queued) => unloadedModels.has(queued.model))) {
        this.#drop(request);
        this.#fail(request, unloaded(request.model));
      }
      if (targets.length > 0) this.#stop(targets, "unload");
      this.#drain();
    });
  }

  /**
   * Restart a running model with new settings (config reload): new requests
   * for it queue instead of being granted, its in-flight requests finish,
   * then it is stopped and started again (by its queued requests, or on its
   * own once the stop is reported). No-op for a model that is not running.
   */
  restart(model: string, now: number): void {
    this.#event(now, () => {
      if (this.#closed || !this.#currentRunning().includes(model)) return;
      this.#restarting.add(model);
      this.#forgetView();
      this.#restartIfIdle(model);
      this.#drain();
    });
  }

  /**
   * A client asked to keep `model` loaded for `ttlMs` once idle (Ollama's
   * `keep_alive`; negative = forever), in place of its configured ttl until
   * it next stops. 0 stops it as soon as it is idle.
   */
  keepAlive(model: string, ttlMs: number, now: number): void {
    if (this.#closed || !this.#settings.isKnown(model)) return;
    this.#event(now, () => {
      this.#ttlOverride.set(model, ttlMs);
      this.#idleSince.delete(model);
      this.#markIdle(model);
    });
  }

  /** The timer armed through `Effects.setTimer` fired (early or late is fine: it is re-armed if needed). */
  tick(now: number): void {
    this.#timerAt = null; // it fired; #settle arms it again if a deadline is still ahead
    this.#event(now, () => this.#deadlines());
  }

  /** Fails every waiting and queued request (503 shutting_down), stops every model; later requests are refused. */
  shutdown(now: number): void {
    if (this.#closed) return;
    this.#event(now, () => {
      const running = this.#currentRunning();
      this.#closed = true;
      const pending = [
        ...[...this.#swaps.values()].flatMap((swap) => swap.waiters.filter((waiter) => waiter.stage === "waiting")),
        ...this.#queue,
      ];
      this.#swaps.clear();
      this.#swapFor.clear();
      this.#queue = [];
      this.#fence = null;
      this.#restarting.clear();
      this.#startAfterStop.clear();
      for (const request of pending) this.#fail(request, shuttingDown(request.model));
      if (running.length > 0) this.#stop(running, "shutdown");
    });
  }

  /**
   * Hot reload: new planner and settings. The queue, swaps and counters are
   * kept; queued requests for models no longer configured fail with 404 and
   * the queue is re-ordered by the new priorities.
   */
  reconfigure(planner: Planner, settings: SchedulerSettings, now: number): void {
    this.#planner = planner;
    this.#settings = settings;
    if (this.#closed) return;
    this.#event(now, () => {
      for (const request of this.#queue.filter((queued) => !settings.isKnown(queued.model))) {
        this.#drop(request);
        this.#fail(request, removedModel(request.model));
      }
      for (const request of this.#queue) request.priority = settings.priorityFor(request.model);
      this.#queue.sort((a, b) => b.priority - a.priority); // stable: arrival order among equals
      this.#drain();
      for (const model of this.#currentRunning()) this.#markIdle(model); // a ttl may have been added
    });
  }

  /** Requests currently being served by a model (advisory, cheap). */
  inFlight(model: string): number {
    return this.#inFlight.get(model) ?? 0;
  }

  /** Advisory snapshot for the status API and tests. */
  snapshot(): SchedulerSnapshot {
    return {
      queued: this.#queue.map((request, i) => ({
        id: request.id,
        model: request.model,
        since: request.since,
        position: i + 1,
      })),
      inFlight: Object.fromEntries(this.#inFlight),
      reserved: Object.fromEntries(this.#reserved),
      swaps: [...this.#swaps.values()].map((swap) => ({
        id: swap.plan.id,
        target: swap.plan.target,
        evict: [...swap.plan.evict],
        waiters: swap.waiters.filter((waiter) => waiter.stage === "waiting").length,
      })),
      starving: this.#fence
        ? { id: this.#fence.request.id, model: this.#fence.request.model, holding: [...this.#fence.evict] }
        : null,
      waiting: this.#waitingPerModel(),
    };
  }

  #waitingPerModel(): Record<string, number> {
    const waiting: Record<string, number> = {};
    const waiters = [...this.#swaps.values()].flatMap((swap) => swap.waiters.filter((waiter) => waiter.stage === "waiting"));
    for (const request of [...this.#queue, ...waiters]) {
      if (!request.internal) waiting[request.model] = (waiting[request.model] ?? 0) + 1;
    }
    return waiting;
  }

  // ---- one event ----

  /**
   * Runs one event: deadlines that passed before the timer fired are handled
   * first, then the event itself; at the end queue positions are reported and
   * the timer is armed for the next deadline.
   */
  #event<T>(now: number, handle: () => T): T {
    this.#now = now;
    this.#forgetView();
    if (this.#timerAt !== null && now >= this.#timerAt) this.#deadlines();
    const result = handle();
    this.#settle();
    return result;
  }

  /** Starvation and TTL deadlines: stop what idled past its ttl, then drain (a starved request may go first). */
  #deadlines(): void {
    for (const [model, since] of this.#idleSince) {
      const ttl = this.#idleLimit(model);
      if (ttl !== null && this.#now < since + ttl) continue;
      this.#idleSince.delete(model);
      if (ttl !== null && this.#isIdle(model) && this.#effects.isReady(model)) {
        this.#stop([model], this.#ttlOverride.has(model) ? "keep-alive" : "ttl");
      }
    }
    this.#drain();
  }

  /** End of every event: report queue positions and arm the timer for the next deadline. */
  #settle(): void {
    const report = this.#effects.queuePosition?.bind(this.#effects);
    this.#queue.forEach((request, i) => {
      if (request.position !== i + 1) {
        request.position = i + 1;
        report?.(request.id, i + 1);
      }
    });
    let at: number | null = null;
    if (!this.#closed) {
      const timeout = this.#settings.starvationTimeoutMs;
      if (timeout > 0 && this.#fence === null && this.#queue.length > 0) {
        at = Math.min(...this.#queue.map((request) => request.since)) + timeout;
      }
      for (const [model, since] of this.#idleSince) {
        const expires = since + (this.#idleLimit(model) ?? 0);
        if (at === null || expires < at) at = expires;
      }
    }
    if (at !== this.#timerAt) {
      this.#timerAt = at;
      this.#effects.setTimer(at);
    }
  }

  // ---- requests ----

  #admit(id: RequestId, model: string, decision: Decision, internal: boolean): void {
    const request: Admitted = {
      id,
      model,
      since: this.#now,
      priority: this.#settings.priorityFor(model),
      stage: "queued",
      position: 0,
      swap: null,
      internal,
    };
    this.#requests.set(id, request);
    increment(this.#reserved, model, 1);
    this.#apply(request, decision);
    // Requests already queued for this model ride on the swap it just started.
    if (decision.kind === "start" && this.#queue.some((queued) => queued.model === model)) this.#drain();
  }

  #grant(request: Admitted): void {
    request.stage = "granted";
    this.#idleSince.delete(request.model);
    this.#lastUsed.set(request.model, this.#now);
    if (request.internal) {
      this.#release(request);
      return;
    }
    increment(this.#inFlight, request.model, 1);
    if (!this.#effects.grant(request.id, request.model)) {
      // The client is gone: nothing is in flight for it and its reservation ends here.
      if (request.stage === "granted" && this.#requests.get(request.id) === request) {
        increment(this.#inFlight, request.model, -1);
        this.#release(request);
      }
    }
  }

  /** Ends a request that will not be served, telling its client why. */
  #fail(request: Admitted, error: Error): void {
    this.#release(request);
    if (!request.internal) this.#effects.fail(request.id, error);
  }

  #enqueue(request: Admitted, why: string): void {
    request.stage = "queued";
    let at = this.#queue.findIndex((queued) => queued.priority < request.priority);
    if (at < 0) at = this.#queue.length;
    this.#queue.splice(at, 0, request);
    this.#effects.debug?.(`request ${request.id} for "${request.model}" queued at ${at + 1}: ${why}`);
  }

  /** Removes a queued or waiting request from where it waits (not from the books). */
  #drop(request: Admitted): void {
    if (request.stage === "queued") {
      this.#queue.splice(this.#queue.indexOf(request), 1);
      if (this.#fence?.request === request) this.#fence = null;
    } else if (request.stage === "waiting" && request.swap) {
      const waiters = request.swap.waiters;
      waiters.splice(waiters.indexOf(request), 1);
      request.swap = null;
    }
  }

  /** Ends a request's reservation; the only place `reserved` goes down. */
  #release(request: Admitted): void {
    if (this.#requests.get(request.id) !== request) return;
    this.#requests.delete(request.id);
    increment(this.#reserved, request.model, -1);
  }

  // ---- stops, restarts and idleness ----

  /** Ask the world to stop models; the running set changes. */
  #stop(models: string[], reason: StopReason): void {
    for (const model of models) this.#idleSince.delete(model);
    this.#effects.stopModels(models, reason);
    this.#forgetView();
  }

  #restartIfIdle(model: string): void {
    if (!this.#restarting.has(model) || (this.#inFlight.get(model) ?? 0) > 0 || this.#swapFor.has(model)) return;
    this.#restarting.delete(model);
    this.#startAfterStop.add(model);
    this.#effects.debug?.(`restart "${model}": idle, stopping it so its new settings take effect`);
    this.#stop([model], "restart");
  }

  /** Nothing is in flight, waiting or queued for the model, and no swap loads or stops it. */
  #isIdle(model: string): boolean {
    return (this.#reserved.get(model) ?? 0) === 0 && !this.#swapFor.has(model) && !this.#beingEvicted(model);
  }

  /**
   * How long (ms) the model may stay idle before it is stopped, or null for
   * ever: a client's keep-alive (0 = at once, negative = for ever), else its
   * configured ttl (0 = for ever).
   */
  #idleLimit(model: string): number | null {
    const override = this.#ttlOverride.get(model);
    if (override !== undefined) return override < 0 ? null : override;
    const ttl = this.#settings.ttlFor(model);
    return ttl > 0 ? ttl : null;
  }

  /** Start the model's ttl clock if it is ready and has just become idle. */
  #markIdle(model: string): void {
    if (this.#closed || this.#idleSince.has(model) || this.#idleLimit(model) === null) return;
    if (this.#isIdle(model) && this.#effects.isReady(model)) this.#idleSince.set(model, this.#now);
  }

  // ---- decision tree (reference §4.2) ----

  #decide(model: string, fence: Fence | null): Decision {
    const held = fence !== null && fence.request.model !== model && fence.evict.has(model);
    const swap = this.#swapFor.get(model);
    if (swap) {
      return held ? { kind: "wait", why: heldBy(fence, model) } : { kind: "join", swap };
    }
    if (held) return { kind: "wait", why: heldBy(fence, model) };
    if (this.#restarting.has(model)) return { kind: "wait", why: `"${model}" restarts with new settings once its requests in flight are done` };

    const evict = this.#evictionFor(model);
    if (evict.length === 0 && !this.#beingEvicted(model) && this.#effects.isReady(model)) {
      return { kind: "grant" };
    }

    for (const active of this.#swaps.values()) {
      const { target, evict: theirs } = active.plan;
      if (evict.includes(target) || theirs.includes(model) || evict.some((m) => theirs.includes(m))) {
        return { kind: "wait", why: `swap ${active.plan.id} to "${target}" (stopping ${list(theirs)}) is in progress` };
      }
    }
    const busy = evict.find((victim) => (this.#inFlight.get(victim) ?? 0) > 0);
    if (busy !== undefined) {
      return { kind: "wait", why: `"${busy}" must stop first and has ${this.#inFlight.get(busy)} requests in flight` };
    }
    if (fence !== null && fence.request.model !== model) {
      if (evict.some((victim) => fence.evict.has(victim)) || this.#fenceWouldEvict(fence, model)) {
        return { kind: "wait", why: `it would delay starved request ${fence.request.id} for "${fence.request.model}"` };
      }
    }
    return { kind: "start", evict };
  }

  #beingEvicted(model: string): boolean {
    for (const active of this.#swaps.values()) if (active.plan.evict.includes(model)) return true;
    return false;
  }

  /** Would the starved request's swap have to stop `model` if `model` were running? */
  #fenceWouldEvict(fence: Fence, model: string): boolean {
    let evicts = this.#fenceEvicts.get(model);
    if (evicts === undefined) {
      const running = [...new Set([...this.#currentRunning(), model])].sort();
      evicts = this.#planner.evictionFor(fence.request.model, running, this.#context).includes(model);
      this.#fenceEvicts.set(model, evicts);
    }
    return evicts;
  }

  #apply(request: Admitted, decision: Decision): void {
    switch (decision.kind) {
      case "join":
        this.#wait(request, decision.swap);
        break;
      case "grant":
        this.#grant(request);
        break;
      case "start":
        this.#startSwap(request, decision.evict);
        break;
      case "wait":
        this.#enqueue(request, decision.why);
        break;
    }
  }

  #startSwap(request: Admitted, evict: string[]): void {
    const running = this.#currentRunning();
    const plan: SwapPlan = {
      id: this.#nextSwapId++,
      target: request.model,
      evict,
      reason: this.#planner.explain(request.model, running, this.#context),
    };
    const swap: Swap = { plan, waiters: [] };
    this.#swaps.set(plan.id, swap);
    this.#swapFor.set(plan.target, swap);
    this.#forgetView();
    this.#wait(request, swap);
    this.#effects.debug?.(`swap ${plan.id}: start "${plan.target}" evicting ${list(evict)} for request ${request.id}`);
    this.#effects.startSwap(plan);
  }

  #wait(request: Admitted, swap: Swap): void {
    request.stage = "waiting";
    request.swap = swap;
    swap.waiters.push(request);
  }

  #forget(swap: Swap): void {
    this.#swaps.delete(swap.plan.id);
    if (this.#swapFor.get(swap.plan.target) === swap) this.#swapFor.delete(swap.plan.target);
    this.#forgetView();
  }

  // ---- queue draining and starvation ----

  /** Re-runs the decision tree for every queued request in order; re-entrant calls run another pass. */
  #drain(): void {
    if (this.#closed) return;
    if (this.#draining) {
      this.#drainAgain = true;
      return;
    }
    this.#draining = true;
    try {
      do {
        this.#drainAgain = false;
        this.#pass();
      } while (this.#drainAgain);
    } finally {
      this.#draining = false;
    }
  }

  #pass(): void {
    this.#forgetView();
    this.#fence = this.#findFence();
    for (const request of [...this.#queue]) {
      if (request.stage !== "queued" || this.#requests.get(request.id) !== request) continue;
      const decision = this.#decide(request.model, this.#fence);
      if (decision.kind === "wait") continue;
      const wasStarving = this.#fence?.request === request;
      this.#drop(request);
      this.#apply(request, decision);
      // The next oldest starved request (if any) gets its turn in a fresh pass.
      if (wasStarving) this.#drainAgain = true;
    }
  }

  /** The oldest request queued for at least the starvation timeout, and what its swap would stop. */
  #findFence(): Fence | null {
    const timeout = this.#settings.starvationTimeoutMs;
    if (timeout <= 0) return null;
    let oldest: Admitted | null = null;
    for (const request of this.#queue) {
      if (this.#now - request.since >= timeout && (oldest === null || request.since < oldest.since)) oldest = request;
    }
    if (oldest === null) return null;
    const evict = this.#swapFor.has(oldest.model) ? [] : this.#evictionFor(oldest.model);
    if (this.#fence?.request !== oldest) {
      this.#effects.debug?.(
        `request ${oldest.id} for "${oldest.model}" has waited ${this.#now - oldest.since} ms: ` +
          `holding new work for ${list(evict)} until its swap can start`,
      );
    }
    return { request: oldest, evict: new Set(evict) };
  }

  // ---- running set and planner memo ----

  #forgetView(): void {
    this.#runningBase = null;
    this.#running = null;
    this.#evictions.clear();
    this.#fenceEvicts.clear();
  }

  /** Non-stopped models plus targets of active swaps, sorted (what the planner sees). */
  #currentRunning(): string[] {
    if (this.#running === null) {
      this.#runningBase ??= this.#effects.runningModels();
      this.#running = [...new Set([...this.#runningBase, ...this.#swapFor.keys()])].sort();
    }
    return this.#running;
  }

  #evictionFor(model: string): string[] {
    let evict = this.#evictions.get(model);
    if (evict === undefined) {
      evict = this.#planner.evictionFor(model, this.#currentRunning(), this.#context);
      this.#evictions.set(model, evict);
    }
    return evict;
  }
}

function heldBy(fence: Fence, model: string): string {
  return `"${model}" takes no new work until starved request ${fence.request.id} for "${fence.request.model}" has swapped`;
}
