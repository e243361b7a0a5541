/**
 * A model without `cmd`: a server modelswap never starts or stops. It is
 * taken to run already at its `proxy` URL (started by hand, by systemd, in a
 * container). "Starting" it waits until its checkEndpoint answers 200 within
 * healthCheckTimeout; "stopping" it (a swap, its ttl, an unload) only ends
 * modelswap's use of it: the server keeps running. While it is in use, the
 * liveness probes notice when it goes away, and the next request waits for it
 * again. The swap's steps (context, hooks) do not run for it.
 */
import { ModelswapError } from "../errors.ts";
import type { LogBuffer } from "../logging/buffer.ts";
import { waitHealthy } from "./health.ts";
import { NOTHING_DONE, type ReadyReport, type StopReport } from "./lifecycle.ts";
import { watchLiveness } from "./liveness.ts";
import type { UpstreamSpec } from "./spec.ts";
import type { ModelState } from "./state.ts";
import type { ModelProcess, ProcessStatus, UpstreamConnection, UpstreamHooks } from "./upstream.ts";

/** A server that runs without modelswap, used like a model's process. */
export class ExternalServer implements ModelProcess {
  #spec: UpstreamSpec;
  #configured: UpstreamSpec;
  #next: UpstreamSpec | null = null;
  #state: ModelState = "stopped";
  #starting: Promise<ReadyReport> | null = null;
  #stopping: Promise<StopReport> | null = null;
  #startAbort: AbortController | null = null;
  #stopLiveness: () => void = () => {};
  #readyAt: number | null = null;
  #lastProgress = 0;
  readonly #log: LogBuffer;
  readonly #hooks: UpstreamHooks;

  constructor(spec: UpstreamSpec, log: LogBuffer, hooks: UpstreamHooks = {}) {
    this.#spec = spec;
    this.#configured = spec;
    this.#log = log;
    this.#hooks = hooks;
  }

  /** The settings as the config gave them. */
  get configuredSpec(): UpstreamSpec {
    return this.#configured;
  }

  /** Current state (advisory). */
  get state(): ModelState {
    return this.#state;
  }

  /** New settings from a config reload; they take effect the next time it is used. */
  updateSpec(spec: UpstreamSpec): void {
    this.#configured = spec;
    if (this.#state === "stopped") this.#spec = spec;
    else this.#next = spec;
  }

  /** Facts for the status views: no process, so no pid, restarts or exit. */
  status(now = Date.now()): ProcessStatus {
    return {
      state: this.#state,
      pid: null,
      baseUrl: this.#spec.baseUrl,
      restarts: 0,
      lastExit: null,
      uptimeMs: this.#readyAt === null ? null : now - this.#readyAt,
    };
  }

  /** Where to send requests while it is in use, or null. */
  connection(): UpstreamConnection | null {
    if (this.#state !== "ready") return null;
    const { id, baseUrl } = this.#spec;
    return {
      baseUrl,
      touch: () => {
        this.#lastProgress = Date.now();
      },
      failure: (cause, when) => {
        const reason = cause instanceof Error ? cause.message : String(cause);
        return Promise.resolve(
          new ModelswapError(502, "upstream_unreachable", `model "${id}" server at ${baseUrl} (not started by modelswap: the model has no cmd) failed ${when}: ${reason}`, { model: id }),
        );
      },
    };
  }

  /** Resolves once the server answers its health check; concurrent callers share one wait. */
  ensureReady(): Promise<ReadyReport> {
    switch (this.#state) {
      case "ready":
        return Promise.resolve(NOTHING_DONE);
      case "starting":
        return this.#starting!;
      case "stopping":
        return this.#stopping!.then(() => this.ensureReady());
      default:
        this.#starting = this.#start().finally(() => (this.#starting = null));
        return this.#starting;
    }
  }

  /** Ends modelswap's use of the server (it keeps running); aborts a wait for it. */
  stop(): Promise<StopReport> {
    if (this.#stopping) return this.#stopping;
    this.#startAbort?.abort();
    if (this.#state !== "ready") return Promise.resolve(NOTHING_DONE);
    this.#stopping = this.#release("no longer used").finally(() => (this.#stopping = null));
    return this.#stopping;
  }

  /** Nothing to kill: the server is not modelswap's. */
  kill(): void {
    this.#stopLiveness();
  }

  async #start(): Promise<ReadyReport> {
    if (this.#next) {
      this.#spec = this.#next;
      this.#next = null;
    }
    const { id, baseUrl, checkEndpoint, healthCheckTimeoutMs } = this.#spec;
    this.#setState("starting");
    const abort = new AbortController();
    this.#startAbort = abort;
    this.#log.write(`[modelswap] ${id} has no cmd: using the server at ${baseUrl} (${new Date().toISOString()})\n`);
    this.#hooks.log?.("info", `${id}: no cmd; waiting for the server at ${baseUrl}${checkEndpoint ?? ""}`);
    const outcome = checkEndpoint === null ? "healthy" : await waitHealthy(baseUrl + checkEndpoint, Date.now() + healthCheckTimeoutMs, abort.signal);
    if (outcome === "healthy" && this.#state === "starting" && !abort.signal.aborted) {
      this.#readyAt = Date.now();
      this.#setState("ready");
      this.#watchLiveness();
      return NOTHING_DONE;
    }
    this.#setState("stopped");
    if (outcome === "timeout") {
      throw new ModelswapError(
        502,
        "upstream_start_timeout",
        `model "${id}" has no cmd, so modelswap does not start it, and nothing answered ${baseUrl}${checkEndpoint} with 200 within ${healthCheckTimeoutMs / 1000}s (healthCheckTimeout): start its server, or fix models.${id}.proxy`,
        { model: id },
      );
    }
    throw new ModelswapError(503, "model_unloaded", `model "${id}" was stopped while modelswap waited for its server`, { model: id });
  }

  #watchLiveness(): void {
    const { id, checkEndpoint, baseUrl, supervision } = this.#spec;
    if (checkEndpoint === null || supervision.probeIntervalMs <= 0) return;
    this.#lastProgress = Date.now();
    this.#stopLiveness = watchLiveness({
      url: baseUrl + checkEndpoint,
      intervalMs: supervision.probeIntervalMs,
      timeoutMs: supervision.probeTimeoutMs,
      hungAfter: supervision.hungAfter,
      lastProgress: () => this.#lastProgress,
      onHung: (reason) => {
        if (this.#state !== "ready") return;
        this.#hooks.log?.("warn", `${id}: ${reason}; it is not modelswap's process, so the next request waits for it again`);
        this.#hooks.onCrash?.(id, reason);
        void this.#release(reason);
      },
    });
  }

  /** ready → stopping → stopped; the stop is announced after the caller's turn, as a process's exit would be. */
  async #release(why: string): Promise<StopReport> {
    this.#stopLiveness();
    this.#setState("stopping");
    await Promise.resolve();
    this.#readyAt = null;
    this.#log.write(`[modelswap] ${this.#spec.id}: ${why}; its server at ${this.#spec.baseUrl} keeps running\n`);
    this.#setState("stopped");
    if (this.#next) {
      this.#spec = this.#next;
      this.#next = null;
    }
    return NOTHING_DONE;
  }

  #setState(to: ModelState): void {
    const from = this.#state;
    if (from === to) return;
    this.#state = to;
    this.#hooks.onState?.(this.#spec.id, from, to);
  }
}
