/**
 * The router's Prometheus metrics: requests, their duration and queue wait,
 * swaps, model state, queue and in-flight counts, upstream restarts and
 * crashes, and token counts and speeds. Counters are updated as things
 * happen; per-model gauges are read from the router at each scrape.
 */
import type { ModelStatus } from "../router.ts";
import type { ModelState } from "../upstream/state.ts";
import type { ActivityRecord } from "./activity.ts";
import { type HardwareGauges, HardwareGaugeSet } from "./hardware-gauges.ts";
import type { StoreCounters } from "./persistence.ts";
import { Registry } from "./prometheus.ts";

const STATES: readonly ModelState[] = ["stopped", "starting", "ready", "stopping", "failed"];

/** Seconds: from a fast cached answer to a long generation. */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
/** Seconds: model loads take from a fraction of a second to minutes. */
const SWAP_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300];
/** Seconds: saving or restoring a model's context (a disk write or read of up to a few GB). */
const CONTEXT_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30];
/** Tokens per second, CPU-only small models to large GPUs. */
const SPEED_BUCKETS = [1, 2.5, 5, 10, 20, 35, 50, 75, 100, 150, 250, 500, 1000, 2500, 5000];

/** Every metric modelswap exports at `/metrics`. */
export class ModelswapMetrics {
  readonly #registry = new Registry();
  readonly #info = this.#registry.gauge("modelswap_build_info", "Always 1; the version label says which modelswap is running.", ["version"]);
  readonly #requests = this.#registry.counter("modelswap_requests_total", "Model requests by model, route and HTTP status.", ["model", "route", "status"]);
  readonly #duration = this.#registry.histogram("modelswap_request_duration_seconds", "Time from a request's arrival to its last response byte.", ["model", "route"], DURATION_BUCKETS);
  readonly #queueWait = this.#registry.histogram("modelswap_queue_wait_seconds", "Time a request waited for its model (queue and load) before it was forwarded.", ["model"], DURATION_BUCKETS);
  readonly #swaps = this.#registry.counter("modelswap_swaps_total", "Swaps that made a model ready, by outcome (ok or error).", ["model", "result"]);
  readonly #swapDuration = this.#registry.histogram("modelswap_swap_duration_seconds", "Time to make a model ready, evictions included.", ["model"], SWAP_BUCKETS);
  readonly #state = this.#registry.gauge("modelswap_model_state", "1 for the state each model is in, 0 for the others.", ["model", "state"]);
  readonly #queued = this.#registry.gauge("modelswap_queued_requests", "Requests waiting for each model.", ["model"]);
  readonly #inFlight = this.#registry.gauge("modelswap_in_flight_requests", "Requests each model is serving.", ["model"]);
  readonly #uptime = this.#registry.gauge("modelswap_model_uptime_seconds", "Seconds since each ready model became ready (0 when not ready).", ["model"]);
  readonly #restarts = this.#registry.counter("modelswap_upstream_restarts_total", "Times each model's upstream process was started again after its first start.", ["model"]);
  readonly #crashes = this.#registry.counter("modelswap_upstream_crashes_total", "Times a ready upstream process exited unexpectedly.", ["model"]);
  readonly #promptTokens = this.#registry.counter("modelswap_prompt_tokens_total", "Prompt tokens reported by the upstreams' responses.", ["model"]);
  readonly #completionTokens = this.#registry.counter("modelswap_completion_tokens_total", "Generated tokens reported by the upstreams' responses.", ["model"]);
  readonly #generationSpeed = this.#registry.histogram("modelswap_generation_tokens_per_second", "Generation speed of each response that reported tokens.", ["model"], SPEED_BUCKETS);
  readonly #promptSpeed = this.#registry.histogram("modelswap_prompt_tokens_per_second", "Prompt processing speed of each response that reported it (llama-server timings).", ["model"], SPEED_BUCKETS);
  readonly #eventsDropped = this.#registry.counter("modelswap_events_dropped_total", "Messages to /api/events subscribers dropped because the subscriber did not keep up.");
  readonly #eventSubscribers = this.#registry.gauge("modelswap_event_subscribers", "Open /api/events connections.");
  readonly #storePending = this.#registry.gauge("modelswap_store_pending", "Activity rows and captures waiting to be written to store.path.");
  readonly #storeWritten = this.#registry.counter("modelswap_store_written_total", "Activity rows and captures written to store.path.");
  readonly #storeDropped = this.#registry.counter("modelswap_store_dropped_total", "Activity rows and captures dropped because store.path could not be written fast enough (or stayed locked).");
  readonly #storeErrors = this.#registry.counter("modelswap_store_write_errors_total", "Batches that failed to be written to store.path (each is tried again).");
  #storeCounters: (() => StoreCounters) | null = null;
  readonly #hardware = new HardwareGaugeSet(this.#registry);
  #hardwareSample: () => HardwareGauges | null = () => null;
  readonly #contextSavedTokens = this.#registry.counter("modelswap_context_saved_tokens_total", "Tokens of context (KV cache) saved before planned stops (keepContext).", ["model"]);
  readonly #contextSavedBytes = this.#registry.counter("modelswap_context_saved_bytes_total", "Bytes of context (KV cache) saved before planned stops (keepContext).", ["model"]);
  readonly #contextRestoredTokens = this.#registry.counter("modelswap_context_restored_tokens_total", "Tokens of saved context restored after starts (keepContext).", ["model"]);
  readonly #contextSave = this.#registry.histogram("modelswap_context_save_seconds", "Time to save a model's context before a planned stop.", ["model"], CONTEXT_BUCKETS);
  readonly #contextRestore = this.#registry.histogram("modelswap_context_restore_seconds", "Time to restore a model's saved context after a start.", ["model"], CONTEXT_BUCKETS);

  constructor(version: string) {
    this.#info.set({ version }, 1);
  }

  /** Count one finished request (from its activity record). */
  requestEnded(record: ActivityRecord): void {
    const { model, path: route } = record;
    this.#requests.inc({ model, route, status: String(record.status) });
    this.#duration.observe({ model, route }, record.durationMs / 1000);
    this.#queueWait.observe({ model }, record.queueWaitMs / 1000);
    if (record.promptTokens !== null) this.#promptTokens.inc({ model }, record.promptTokens);
    if (record.completionTokens !== null) this.#completionTokens.inc({ model }, record.completionTokens);
    if (record.tokensPerSecond !== null) this.#generationSpeed.observe({ model }, record.tokensPerSecond);
    if (record.promptTokensPerSecond !== null) this.#promptSpeed.observe({ model }, record.promptTokensPerSecond);
  }

  /** Count one finished swap. */
  swapFinished(model: string, durationMs: number, ok: boolean): void {
    this.#swaps.inc({ model, result: ok ? "ok" : "error" });
    this.#swapDuration.observe({ model }, durationMs / 1000);
  }

  /** Count a context save (keepContext). */
  contextSaved(model: string, tokens: number, bytes: number, ms: number): void {
    this.#contextSavedTokens.inc({ model }, tokens);
    this.#contextSavedBytes.inc({ model }, bytes);
    this.#contextSave.observe({ model }, ms / 1000);
  }

  /** Count a context restore (keepContext). */
  contextRestored(model: string, tokens: number, ms: number): void {
    this.#contextRestoredTokens.inc({ model }, tokens);
    this.#contextRestore.observe({ model }, ms / 1000);
  }

  /** Count one crash of a ready upstream. */
  crashed(model: string): void {
    this.#crashes.inc({ model });
  }

  /** Where the store's figures are read at each scrape (only with `store.path`). */
  useStore(counters: () => StoreCounters): void {
    this.#storeCounters = counters;
  }

  /** Where the GPU and RAM gauges read their last sample (the memory monitor). */
  useHardware(sample: () => HardwareGauges | null): void {
    this.#hardwareSample = sample;
  }

  /** The text exposition, with per-model gauges taken from `status` and the event feed's figures. */
  render(status: ModelStatus[], events: { subscribers: number; dropped: number }): string {
    for (const gauge of [this.#state, this.#queued, this.#inFlight, this.#uptime]) gauge.reset();
    for (const s of status) {
      const model = s.model;
      for (const state of STATES) this.#state.set({ model, state }, s.state === state ? 1 : 0);
      this.#queued.set({ model }, s.queued);
      this.#inFlight.set({ model }, s.inFlight);
      this.#uptime.set({ model }, s.state === "ready" && s.uptimeMs !== null ? s.uptimeMs / 1000 : 0);
      this.#restarts.setTotal({ model }, s.restarts);
    }
    this.#eventsDropped.setTotal({}, events.dropped);
    this.#eventSubscribers.set({}, events.subscribers);
    const store = this.#storeCounters?.();
    if (store) {
      this.#storePending.set({}, store.pending);
      this.#storeWritten.setTotal({}, store.written);
      this.#storeDropped.setTotal({}, store.dropped);
      this.#storeErrors.setTotal({}, store.writeErrors);
    }
    this.#hardware.fill(this.#hardwareSample());
    return this.#registry.render();
  }
}
