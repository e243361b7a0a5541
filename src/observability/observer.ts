/**
 * The real {@link Observer}: turns what the router and the HTTP layer report
 * into Prometheus metrics, activity (the in-memory ring, or the SQLite store
 * with `store.path`), captures, the in-flight list and the live event feed
 * (modelswap's format and llama-swap's), and taps the router's and models'
 * logs for the feed. Everything here is synchronous bookkeeping; nothing on
 * the request path waits for it (the store writes in batches, later).
 */
import type { Config } from "../config/schema.ts";
import type { LogHub } from "../logging/logger.ts";
import type { Observer, RequestEnd, RequestInfo, RequestObservation, SwapContext } from "../observer.ts";
import type { RestoreReport, SaveReport } from "../upstream/context.ts";
import type { ModelStatus } from "../router.ts";
import type { SwapPlan } from "../scheduler/effects.ts";
import type { ModelState } from "../upstream/state.ts";
import { type ActivityRecord, ActivityLog, type ActivityStore } from "./activity.ts";
import { type LlamaActivityRow, llamaRow } from "./activity-stats.ts";
import { CaptureBuffer, captureShare, type CaptureStore, DraftBudget } from "./captures.ts";
import { EventFeed, type EventFeedOptions } from "./events.ts";
import { InflightRequests } from "./inflight.ts";
import { LLAMA_SWAP_FORMAT, type LlamaModel, llamaSwapFormat } from "./llama-events.ts";
import { ModelswapMetrics } from "./metrics.ts";
import type { ObservabilityStore } from "./persistence.ts";
import { type DetailedObservation, type EndDetails, type TrackInit, TrackedRequest } from "./requests.ts";
import { UsageScanner } from "./usage.ts";

/** What observability reads from the router (the current one: it changes on reload). */
export interface ObservedRouter {
  readonly config: Config;
  status(): ModelStatus[];
}

/** One model as the dashboard and `/api/events` show it: its status plus its configured names. */
export interface ModelView extends ModelStatus {
  name: string;
  description: string;
  aliases: string[];
  unlisted: boolean;
}

/** The first message of `/api/events` (and the resync after dropped messages). */
export interface Snapshot {
  version: string;
  /** Server time (ISO 8601), to anchor uptimes. */
  time: string;
  models: ModelView[];
  /** Recent requests, newest first. */
  activity: ActivityRecord[];
}

/** Options for {@link Observability}. */
export interface ObservabilityOptions {
  /** The router serving now. Called lazily, never during construction. */
  router: () => ObservedRouter;
  logs: LogHub;
  version: string;
  /** Least time between two queue/in-flight updates on the event feed (default 250 ms). */
  loadIntervalMs?: number;
  events?: EventFeedOptions;
  /** Where activity and captures are kept across restarts (`store.path`); absent: in memory. */
  store?: ObservabilityStore | null;
}

/** When a request arrived: wall-clock ms, and `performance.now()` for durations. */
interface Arrival {
  at: number;
  perf: number;
}

/** Activity rows included in a snapshot. */
const SNAPSHOT_ACTIVITY = 100;

/** Metrics, activity and events for one running modelswap. */
export class Observability implements Observer {
  readonly metrics: ModelswapMetrics;
  readonly activity: ActivityStore;
  readonly captures: CaptureStore;
  readonly inflight: InflightRequests;
  readonly events: EventFeed;
  readonly #store: ObservabilityStore | null;
  readonly #router: () => ObservedRouter;
  readonly #logs: LogHub;
  readonly #version: string;
  readonly #loadIntervalMs: number;
  readonly #unsubscribe: Array<() => void> = [];
  readonly #tappedModels = new Set<string>();
  /** Response bytes of captures still being collected: the capture buffer's size again, shared. */
  readonly #drafts = new DraftBudget(() => this.#captureBudget());
  #modelsTimer: ReturnType<typeof setTimeout> | undefined;
  #lastModelsAt = 0;
  #activeProfile: () => string | null = () => null;

  constructor(options: ObservabilityOptions) {
    this.#router = options.router;
    this.#logs = options.logs;
    this.#version = options.version;
    this.#loadIntervalMs = options.loadIntervalMs ?? 250;
    this.metrics = new ModelswapMetrics(options.version);
    this.#store = options.store ?? null;
    this.activity = this.#store?.activity ?? new ActivityLog(() => this.#router().config.metricsMaxInMemory);
    this.captures = this.#store?.captures ?? new CaptureBuffer(() => this.#captureBudget());
    if (this.#store) {
      this.#store.useLimits(() => {
        const config = this.#router().config;
        return { maxRows: config.store.maxRows, captureBytes: this.#captureBudget(), recentRows: config.metricsMaxInMemory };
      });
      this.metrics.useStore(this.#store.counters.bind(this.#store));
    }
    this.events = new EventFeed(() => this.snapshot(), { budget: options.logs.subscribers, ...options.events }, {
      [LLAMA_SWAP_FORMAT]: llamaSwapFormat({
        models: () => this.#llamaModels(),
        history: (source) => options.logs[source].history(),
        uiConfig: () => ({ activity: this.#router().config.ui.activity }),
        activeProfile: () => this.#activeProfile(),
        inflight: () => this.inflight.snapshot(),
        row: (record) => this.row(record),
      }),
    });
    this.inflight = new InflightRequests((update) => this.events.publish("inflight", update), () => this.events.subscribers > 0, options.logs.redactor.apply);
    this.#tapLog("proxy", options.logs.proxy.subscribe.bind(options.logs.proxy));
  }

  /** A finished request in llama-swap's shape, `has_capture` as it is now. */
  row(record: ActivityRecord): LlamaActivityRow {
    return llamaRow(record, this.captures.has(record.id));
  }

  /** Where llama-swap's `profileChanged` reads the active profile (the HTTP layer owns profiles). */
  useProfiles(active: () => string | null): void {
    this.#activeProfile = active;
  }

  /** The active profile changed: llama-swap's clients are told, with the model list. */
  profileChanged(): void {
    this.events.publish("profile", { active: this.#activeProfile() });
  }

  /** Start following one model request from its arrival (the HTTP layer's side of it). */
  track(init: TrackInit): TrackedRequest {
    return new TrackedRequest({
      inflight: this.inflight,
      captureShare: () => captureShare(this.#captureBudget()),
      drafts: this.#drafts,
      redact: this.#logs.redactor.apply,
      observe: (info) => this.#observe(info, { at: info.arrivedAt, perf: info.arrivedPerf }),
    }, init);
  }

  /** The state a new `/api/events` subscriber starts from. */
  snapshot(): Snapshot {
    return {
      version: this.#version,
      time: new Date().toISOString(),
      models: this.models(),
      activity: this.activity.recent(SNAPSHOT_ACTIVITY),
    };
  }

  /** Every configured model with its live status, sorted by id. */
  models(): ModelView[] {
    const router = this.#router();
    return router.status().map((status) => {
      this.#tapModelLog(status.model);
      const model = router.config.models[status.model];
      return {
        ...status,
        name: model?.name ?? "",
        description: model?.description ?? "",
        aliases: model?.aliases ?? [],
        unlisted: model?.unlisted ?? false,
      };
    });
  }

  /** `/metrics` text. */
  renderMetrics(): string {
    return this.metrics.render(this.#router().status(), this.events);
  }

  /** Stop timers and log taps, end every event stream, and write and close the store (shutdown, tests). */
  close(): void {
    clearTimeout(this.#modelsTimer);
    this.#modelsTimer = undefined;
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
    this.inflight.close();
    this.events.close();
    this.#store?.close();
  }

  modelState(model: string, from: ModelState, to: ModelState): void {
    this.#tapModelLog(model);
    this.events.publish("state", { model, from, to });
    this.#publishModelsIn(0);
  }

  swapStarted(plan: SwapPlan): void {
    this.events.publish("swap", { phase: "started", id: plan.id, target: plan.target, evict: plan.evict, reason: plan.reason });
  }

  swapFinished(plan: SwapPlan, durationMs: number, error: string | null, context?: SwapContext): void {
    this.metrics.swapFinished(plan.target, durationMs, error === null);
    this.events.publish("swap", {
      phase: "finished",
      id: plan.id,
      target: plan.target,
      evict: plan.evict,
      reason: plan.reason,
      durationMs,
      error,
      ...(context ? { context } : {}),
    });
  }

  contextSaved(model: string, report: SaveReport): void {
    this.metrics.contextSaved(model, report.tokens, report.bytes, report.ms);
  }

  contextRestored(model: string, report: RestoreReport): void {
    this.metrics.contextRestored(model, report.tokens, report.ms);
  }

  /** A deleted save leaves the model list (`savedContext`) at once. */
  contextForgotten(): void {
    this.#publishModelsIn(0);
  }

  crashed(model: string, reason: string): void {
    this.metrics.crashed(model);
    this.events.publish("crash", { model, reason });
  }

  loadChanged(): void {
    this.#publishModelsIn(Math.max(0, this.#lastModelsAt + this.#loadIntervalMs - Date.now()));
  }

  request(info: RequestInfo): RequestObservation {
    return this.#observe(info, { at: Date.now(), perf: performance.now() });
  }

  /** Bytes of captures kept (`captureBuffer` MB). */
  #captureBudget(): number {
    return this.#router().config.captureBuffer * 1024 * 1024;
  }

  /** Every configured model, then every peer's, as llama-swap's `modelStatus` lists them. */
  #llamaModels(): LlamaModel[] {
    const local = this.models().map((m): LlamaModel => ({
      id: m.model,
      name: m.name,
      description: m.description,
      state: m.state,
      unlisted: m.unlisted,
      peerID: "",
      ...(m.aliases.length ? { aliases: m.aliases } : {}),
    }));
    const peers = Object.entries(this.#router().config.peers).flatMap(([peerID, peer]) =>
      peer.models.map((model): LlamaModel => ({ id: `${peerID}/${model}`, name: "", description: "", state: "", unlisted: false, peerID }))
    );
    return [...local, ...peers];
  }

  #observe(info: RequestInfo, arrival: Arrival): DetailedObservation {
    const time = new Date(arrival.at).toISOString();
    const arrived = arrival.perf;
    let grantedAt: number | null = null;
    let firstByteAt: number | null = null;
    const scanner = new UsageScanner();
    let ended = false;
    return {
      granted: () => {
        grantedAt ??= performance.now();
      },
      chunk: (bytes) => {
        firstByteAt ??= performance.now();
        scanner.push(bytes);
      },
      end: (result: RequestEnd, details?: EndDetails) => {
        if (ended) return;
        ended = true;
        const now = performance.now();
        const usage = scanner.finish();
        // Without llama-server's own figure, generation runs from the first streamed byte (or the grant) to the end.
        const generationStart = info.stream ? firstByteAt ?? grantedAt : grantedAt;
        const generationMs = generationStart === null ? 0 : now - generationStart;
        const measured = usage.completionTokens && generationMs >= 1 ? usage.completionTokens / (generationMs / 1000) : null;
        const record = this.activity.add({
          time,
          model: info.model,
          path: info.path,
          method: info.method,
          stream: info.stream,
          status: result.status,
          contentType: details?.contentType ?? "",
          durationMs: round(now - arrived),
          queueWaitMs: round((grantedAt ?? now) - arrived),
          promptTokens: usage.promptTokens,
          completionTokens: usage.completionTokens,
          cacheTokens: usage.cacheTokens ?? null,
          draftTokens: usage.draftTokens ?? null,
          draftAcceptedTokens: usage.draftAcceptedTokens ?? null,
          tokensPerSecond: roundOrNull(usage.generationPerSecond ?? measured),
          promptTokensPerSecond: roundOrNull(usage.promptPerSecond),
          bytes: result.bytes,
          error: result.error ?? null,
        });
        if (details?.capture) this.captures.add(record.id, details.capture);
        this.metrics.requestEnded(record);
        this.events.publish("activity", record);
      },
    };
  }

  /** Publish the models list after `delayMs`, unless an update is already due sooner. */
  #publishModelsIn(delayMs: number): void {
    if (this.events.subscribers === 0) return;
    if (this.#modelsTimer !== undefined) {
      if (delayMs > 0) return;
      clearTimeout(this.#modelsTimer);
    }
    this.#modelsTimer = setTimeout(() => {
      this.#modelsTimer = undefined;
      this.#lastModelsAt = Date.now();
      this.events.publish("models", this.models());
    }, delayMs);
  }

  #tapModelLog(model: string): void {
    if (this.#tappedModels.has(model)) return;
    this.#tappedModels.add(model);
    const buffer = this.#logs.model(model);
    this.#tapLog(model, buffer.subscribe.bind(buffer));
  }

  #tapLog(source: string, subscribe: (listener: (text: string) => void) => () => void): void {
    this.#unsubscribe.push(subscribe((text) => {
      if (this.events.wantsLogs) this.events.publish("log", { source, text });
    }));
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

function roundOrNull(value: number | null): number | null {
  return value === null || !Number.isFinite(value) ? null : round(value);
}
