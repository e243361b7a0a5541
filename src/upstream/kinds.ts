/**
 * Which kind of process a model's spec needs: a command modelswap runs (the
 * usual case), a server that runs already (a model without `cmd`, see
 * external.ts), or one modelswap cannot reach: a proxy that is not an
 * http(s) URL (`unix:///run/llm.sock` loads, as in llama-swap, but neither
 * program can forward to it). A config reload that changes a model's kind
 * takes effect when the model next starts, like any other change.
 */
import { ModelswapError } from "../errors.ts";
import { NOTHING_DONE, type ReadyReport, type StopReport } from "./lifecycle.ts";
import type { UpstreamSpec } from "./spec.ts";
import type { ModelState } from "./state.ts";
import type { ModelProcess, ProcessStatus, UpstreamConnection } from "./upstream.ts";

/** The three kinds of model process. */
export type ProcessKind = "command" | "external" | "unreachable";

/** The kind of process `spec` needs. */
export function processKind(spec: UpstreamSpec): ProcessKind {
  if (!/^https?:\/\//i.test(spec.baseUrl)) return "unreachable";
  return spec.argv.length === 0 ? "external" : "command";
}

/**
 * Why a model can never be started as configured (its proxy is not an
 * http(s) URL), or null. Asked at admission, so such a request fails before
 * the planner stops anything to make room for it.
 */
export function unstartable(spec: UpstreamSpec): ModelswapError | null {
  return processKind(spec) === "unreachable" ? unreachable(spec) : null;
}

function unreachable({ id, baseUrl }: UpstreamSpec): ModelswapError {
  const what = baseUrl.startsWith("unix:") ? "a unix socket" : "not an http:// or https:// URL";
  return new ModelswapError(
    502,
    "upstream_unsupported",
    `model "${id}" cannot be reached: its proxy ${baseUrl} is ${what}, and modelswap forwards requests over TCP to http:// and https:// URLs only (llama-swap cannot forward to it either), so it does not start this model. Serve it on a TCP port and set models.${id}.proxy to that URL, e.g. http://127.0.0.1:8080`,
    { model: id },
  );
}

/** How to make each kind that needs more than the spec. */
export interface ProcessMakers {
  /** A process modelswap spawns (an `Upstream`). */
  command(spec: UpstreamSpec): ModelProcess;
  /** A server that runs already (an `ExternalServer`). */
  external(spec: UpstreamSpec): ModelProcess;
}

/** The process of one model, of the kind its spec needs (and needs after a reload). */
export function modelProcess(spec: UpstreamSpec, makers: ProcessMakers): ModelProcess {
  return new KindSwitch(spec, makers);
}

/** Delegates to a process of the spec's kind; a new kind from a reload replaces it once it is stopped. */
class KindSwitch implements ModelProcess {
  #current: ModelProcess;
  #pending: UpstreamSpec | null = null;
  readonly #makers: ProcessMakers;

  constructor(spec: UpstreamSpec, makers: ProcessMakers) {
    this.#makers = makers;
    this.#current = this.#make(spec);
  }

  get configuredSpec(): UpstreamSpec {
    return this.#pending ?? this.#current.configuredSpec;
  }

  get state(): ModelState {
    return this.#current.state;
  }

  ensureReady(): Promise<ReadyReport> {
    this.#switchWhenStopped();
    return this.#current.ensureReady();
  }

  stop(why?: string): Promise<StopReport> {
    return this.#current.stop(why);
  }

  kill(): void {
    this.#current.kill();
  }

  updateSpec(spec: UpstreamSpec): void {
    if (processKind(spec) === processKind(this.#current.configuredSpec)) {
      this.#pending = null;
      this.#current.updateSpec(spec);
      return;
    }
    this.#pending = spec;
    this.#switchWhenStopped();
  }

  connection(): UpstreamConnection | null {
    return this.#current.connection();
  }

  status(): ProcessStatus {
    return this.#current.status();
  }

  #switchWhenStopped(): void {
    const state = this.#current.state;
    if (this.#pending === null || (state !== "stopped" && state !== "failed")) return;
    this.#current = this.#make(this.#pending);
    this.#pending = null;
  }

  #make(spec: UpstreamSpec): ModelProcess {
    const kind = processKind(spec);
    return kind === "unreachable" ? new UnreachableServer(spec) : this.#makers[kind](spec);
  }
}

/** A model whose proxy modelswap cannot send requests to: never started, every request answered with why. */
class UnreachableServer implements ModelProcess {
  #spec: UpstreamSpec;

  constructor(spec: UpstreamSpec) {
    this.#spec = spec;
  }

  get configuredSpec(): UpstreamSpec {
    return this.#spec;
  }

  get state(): ModelState {
    return "stopped";
  }

  ensureReady(): Promise<ReadyReport> {
    return Promise.reject(unreachable(this.#spec));
  }

  stop(): Promise<StopReport> {
    return Promise.resolve(NOTHING_DONE);
  }

  kill(): void {}

  updateSpec(spec: UpstreamSpec): void {
    this.#spec = spec;
  }

  connection(): UpstreamConnection | null {
    return null;
  }

  status(): ProcessStatus {
    return { state: "stopped", pid: null, baseUrl: this.#spec.baseUrl, restarts: 0, lastExit: null, uptimeMs: null };
  }
}
