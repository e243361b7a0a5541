/**
 * The model processes of one router, by model id: created from their specs,
 * stopped with one shared stop per model, and kept in step with a reloaded
 * config. A model removed from the config is forgotten once its stop is
 * done, unless a later reload brought it back in the meantime.
 */
import { ModelswapError } from "./errors.ts";
import { unstartable } from "./upstream/kinds.ts";
import type { ReadyReport, StopReport } from "./upstream/lifecycle.ts";
import type { UpstreamSpec } from "./upstream/spec.ts";
import { sameSpec } from "./upstream/spec.ts";
import type { ModelState } from "./upstream/state.ts";
import type { ModelProcess, ProcessStatus, UpstreamConnection } from "./upstream/upstream.ts";

/** What a reload changed, by model id. */
export interface SpecChanges {
  added: string[];
  changed: string[];
  removed: string[];
}

/** The process table. */
export class ProcessTable {
  readonly #create: (spec: UpstreamSpec) => ModelProcess;
  readonly #processes = new Map<string, ModelProcess>();
  readonly #stops = new Map<string, Promise<StopReport | void>>();
  #configured = new Set<string>();
  #closed = false;

  /** `create` makes the process of one model (an `Upstream` in production). */
  constructor(specs: UpstreamSpec[], create: (spec: UpstreamSpec) => ModelProcess) {
    this.#create = create;
    this.apply(specs);
  }

  /** A model's state (advisory), or undefined for an unknown id. */
  state(model: string): ModelState | undefined {
    return this.#processes.get(model)?.state;
  }

  /** Why a model can never be started as configured, or null (see {@link unstartable}). */
  unstartable(model: string): ModelswapError | null {
    const process = this.#processes.get(model);
    return process ? unstartable(process.configuredSpec) : null;
  }

  /** Models whose process is starting, ready or stopping, sorted. */
  running(): string[] {
    return [...this.#processes].filter(([, p]) => p.state !== "stopped" && p.state !== "failed").map(([id]) => id).sort();
  }

  /** The ready process of a model, or null. */
  connection(model: string): UpstreamConnection | null {
    return this.#processes.get(model)?.connection() ?? null;
  }

  /** Every process's status, by model id. */
  status(): Array<ProcessStatus & { model: string }> {
    return [...this.#processes].map(([model, process]) => ({ model, ...process.status() }));
  }

  /** Make a model ready (start it if needed); refused once every process was stopped for good. */
  ensureReady(model: string): Promise<ReadyReport> {
    if (this.#closed) {
      return Promise.reject(new ModelswapError(503, "shutting_down", `modelswap is shutting down, so model "${model}" is not started; retry against the new instance`, { model }));
    }
    return this.#processes.get(model)!.ensureReady();
  }

  /** Stop a model's process (`why`: for clients whose requests it cuts); concurrent stops share one. */
  stop(model: string, why?: string): Promise<StopReport | void> {
    const process = this.#processes.get(model);
    if (!process) return Promise.resolve();
    let stopping = this.#stops.get(model);
    if (!stopping) {
      stopping = process.stop(why).finally(() => this.#stops.delete(model));
      this.#stops.set(model, stopping);
    }
    return stopping;
  }

  /** Resolves once the stops in progress for these models (all when `"all"`) are done. */
  async stopped(models: string[] | "all"): Promise<void> {
    await Promise.all((models === "all" ? [...this.#stops.values()] : models.map((id) => this.#stops.get(id))));
  }

  /** Stop every process and wait until each is reaped; no process starts after this. */
  async stopAll(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#processes.keys()].map((id) => this.stop(id)));
  }

  /** SIGKILL every process group now. */
  kill(): void {
    for (const process of this.#processes.values()) process.kill();
  }

  /**
   * Take on the specs of a (re)loaded config: new models get a process, a
   * changed spec takes effect at the model's next start, removed models are
   * forgotten once stopped (the caller stops them).
   */
  apply(specs: UpstreamSpec[]): SpecChanges {
    const before = this.#configured;
    this.#configured = new Set(specs.map((spec) => spec.id));
    const changes: SpecChanges = { added: [], changed: [], removed: [...before].filter((id) => !this.#configured.has(id)) };
    for (const spec of specs) {
      const process = this.#processes.get(spec.id);
      if (!before.has(spec.id)) changes.added.push(spec.id);
      if (!process) this.#processes.set(spec.id, this.#create(spec));
      else if (!sameSpec(spec, process.configuredSpec)) {
        process.updateSpec(spec);
        if (before.has(spec.id)) changes.changed.push(spec.id);
      }
    }
    for (const id of changes.removed) {
      void (this.#stops.get(id) ?? Promise.resolve()).then(() => {
        if (!this.#configured.has(id)) this.#processes.delete(id);
      });
    }
    return changes;
  }
}
