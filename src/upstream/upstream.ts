/**
 * One upstream server process per model and its state machine
 * `stopped → starting → ready → stopping → stopped`. Every transition happens
 * inside this object: callers ask for `ensureReady()` or `stop()` and never
 * branch a mutation on a state they read.
 */
import { ModelswapError } from "../errors.ts";
import type { ChildProcess, ExitStatus, Runtime } from "../runtime/runtime.ts";
import type { ModelState } from "../scheduler/effects.ts";
import { waitHealthy } from "./health.ts";
import { type LogBuffer, pipeLines } from "./logs.ts";

/** Everything needed to run one model's server (derived from its config). */
export interface UpstreamSpec {
  id: string;
  /** Program and arguments, already split. */
  argv: string[];
  /** Stop command argv with `${PID}` still in place, or null for SIGTERM. */
  stopArgv: string[] | null;
  env: Record<string, string>;
  /** Base URL requests are forwarded to, e.g. `http://127.0.0.1:5800`. */
  baseUrl: string;
  /** Path polled for HTTP 200, or null to be ready as soon as spawned. */
  checkEndpoint: string | null;
  healthCheckTimeoutMs: number;
  unloadTimeoutMs: number;
}

/** Where the process group is reported so it dies with the router (see watchdog). */
export interface GroupTracker {
  track(pgid: number): void;
  untrack(pgid: number): void;
}

/** Callbacks an upstream uses to report what happened to it. */
export interface UpstreamHooks {
  onState?(id: string, from: ModelState, to: ModelState): void;
  /** The process exited while it was ready (a crash), with its reason. */
  onCrash?(id: string, reason: string): void;
  log?(level: "info" | "warn", message: string): void;
  groups?: GroupTracker;
}

/** Human wording of an exit status: `exited with code 3` / `killed by signal SIGKILL`. */
export function describeExit(status: ExitStatus): string {
  return status.signal ? `killed by signal ${status.signal}` : `exited with code ${status.code}`;
}

/** A supervised upstream process. */
export class Upstream {
  #spec: UpstreamSpec;
  #nextSpec: UpstreamSpec | null = null;
  readonly log: LogBuffer;
  #state: ModelState = "stopped";
  #proc: ChildProcess | null = null;
  #exitReason: string | null = null;
  #starting: Promise<void> | null = null;
  #stopping: Promise<void> | null = null;
  #startAbort: AbortController | null = null;
  #readyAt: number | null = null;
  #starts = 0;
  readonly #runtime: Runtime;
  readonly #hooks: UpstreamHooks;

  constructor(spec: UpstreamSpec, runtime: Runtime, log: LogBuffer, hooks: UpstreamHooks = {}) {
    this.#spec = spec;
    this.#runtime = runtime;
    this.log = log;
    this.#hooks = hooks;
  }

  /** How this model is run (the settings of the current process, if any). */
  get spec(): UpstreamSpec {
    return this.#spec;
  }

  /** New settings from a config reload; they take effect at the next start. */
  updateSpec(spec: UpstreamSpec): void {
    if (this.#state === "stopped" || this.#state === "failed") this.#spec = spec;
    else this.#nextSpec = spec;
  }

  /** Current state (advisory). */
  get state(): ModelState {
    return this.#state;
  }

  /** Pid of the running process, if any. */
  get pid(): number | null {
    return this.#proc?.pid ?? null;
  }

  /** Milliseconds since the process became ready, or null. */
  uptimeMs(now = Date.now()): number | null {
    return this.#readyAt === null ? null : now - this.#readyAt;
  }

  /** Times the process was started, minus the first one. */
  get restarts(): number {
    return Math.max(0, this.#starts - 1);
  }

  /** Why the last process ended, e.g. `exited with code 1`. */
  get lastExit(): string | null {
    return this.#exitReason;
  }

  /**
   * Resolve once the server answers its health check, starting it if
   * needed. Concurrent callers share one start; a caller arriving while the
   * process is stopping waits for the stop, then starts it again.
   */
  ensureReady(): Promise<void> {
    switch (this.#state) {
      case "ready":
        return Promise.resolve();
      case "starting":
        return this.#starting!;
      case "stopping":
        return this.#stopping!.then(() => this.ensureReady());
      default:
        this.#starting = this.#start().finally(() => (this.#starting = null));
        return this.#starting;
    }
  }

  /**
   * Stop the process: `cmdStop` or SIGTERM to its process group, SIGKILL to
   * the group after `graceMs`. Resolves only once the process is reaped.
   * Aborts a start in progress. Idempotent.
   */
  stop(graceMs = this.spec.unloadTimeoutMs): Promise<void> {
    if (this.#stopping) return this.#stopping;
    if (!this.#proc) {
      this.#startAbort?.abort();
      return Promise.resolve();
    }
    this.#stopping = this.#stop(this.#proc, graceMs).finally(() => (this.#stopping = null));
    return this.#stopping;
  }

  async #start(): Promise<void> {
    if (this.#nextSpec) {
      this.#spec = this.#nextSpec;
      this.#nextSpec = null;
    }
    const { id, argv, env, baseUrl, checkEndpoint } = this.spec;
    this.#setState("starting");
    this.#exitReason = null;
    let proc: ChildProcess;
    try {
      proc = this.#runtime.spawn({ argv, env, newProcessGroup: true, output: "pipe" });
    } catch (error) {
      this.#setState("stopped");
      const reason = error instanceof Error ? error.message : String(error);
      throw new ModelswapError(502, "upstream_start_failed", `model "${id}" could not be started: cannot run "${argv[0]}": ${reason}. Check models.${id}.cmd.`, { model: id });
    }
    this.#starts++;
    this.#proc = proc;
    this.#hooks.groups?.track(proc.pid);
    const startAbort = new AbortController();
    this.#startAbort = startAbort;
    if (proc.stdout) void pipeLines(proc.stdout, (line) => this.log.write(line));
    if (proc.stderr) void pipeLines(proc.stderr, (line) => this.log.write(line));
    void proc.exited.then((status) => this.#onExit(proc, status));
    this.#hooks.log?.("info", `${id}: starting pid=${proc.pid} ${argv.join(" ")}`);

    const startedAt = Date.now();
    const outcome = checkEndpoint === null
      ? "healthy"
      : await waitHealthy(baseUrl + checkEndpoint, startedAt + this.spec.healthCheckTimeoutMs, startAbort.signal);

    if (outcome === "healthy" && this.#proc === proc && this.#state === "starting") {
      this.#readyAt = Date.now();
      this.#setState("ready");
      this.#hooks.log?.("info", `${id}: ready in ${this.#readyAt - startedAt} ms`);
      return;
    }
    if (this.#exitReason !== null && this.#proc !== proc) {
      throw this.#startFailure(`${this.#exitReason} before becoming ready`);
    }
    if (outcome === "timeout") {
      await this.stop(5000);
      throw this.#startFailure(`did not answer ${checkEndpoint} with 200 within ${this.spec.healthCheckTimeoutMs / 1000}s (healthCheckTimeout)`, "upstream_start_timeout");
    }
    throw new ModelswapError(503, "model_unloaded", `model "${id}" was stopped while it was starting`, { model: id });
  }

  #startFailure(what: string, code = "upstream_start_failed"): ModelswapError {
    const tail = this.log.tail(10);
    const output = tail.length ? ` Last output:\n${tail.join("\n")}` : " It printed nothing.";
    return new ModelswapError(502, code, `model "${this.spec.id}" failed to start: ${what}.${output}`, {
      model: this.spec.id,
      exit_reason: this.#exitReason ?? undefined,
    });
  }

  async #stop(proc: ChildProcess, graceMs: number): Promise<void> {
    const { id, stopArgv } = this.spec;
    this.#startAbort?.abort();
    this.#setState("stopping");
    this.#hooks.log?.("info", `${id}: stopping pid=${proc.pid}`);
    if (stopArgv) {
      this.#runStopCommand(stopArgv.map((arg) => arg.replaceAll("${PID}", String(proc.pid))));
    } else {
      this.#runtime.killGroup(proc.pid, "SIGTERM");
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const gone = await Promise.race([
      proc.exited.then(() => true),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), graceMs))),
    ]);
    clearTimeout(timer);
    if (!gone) {
      this.#hooks.log?.("warn", `${id}: did not exit within ${graceMs} ms of the stop signal; sending SIGKILL`);
      this.#runtime.killGroup(proc.pid, "SIGKILL");
      await proc.exited;
    }
    // The exit handler has run (it is chained first on `exited`).
    this.#setState("stopped");
  }

  #runStopCommand(argv: string[]): void {
    try {
      const stopper = this.#runtime.spawn({ argv, env: this.spec.env, output: "pipe" });
      if (stopper.stdout) void pipeLines(stopper.stdout, (line) => this.log.write(line));
      if (stopper.stderr) void pipeLines(stopper.stderr, (line) => this.log.write(line));
    } catch (error) {
      this.#hooks.log?.("warn", `${this.spec.id}: cmdStop failed (${error}); sending SIGTERM instead`);
      if (this.#proc) this.#runtime.killGroup(this.#proc.pid, "SIGTERM");
    }
  }

  #onExit(proc: ChildProcess, status: ExitStatus): void {
    // Anything left in the group (a grandchild) goes with the leader.
    this.#runtime.killGroup(proc.pid, "SIGKILL");
    this.#hooks.groups?.untrack(proc.pid);
    if (this.#proc !== proc) return;
    const reason = describeExit(status);
    this.#exitReason = reason;
    this.#proc = null;
    this.#readyAt = null;
    this.log.write(`[modelswap] ${this.spec.id} pid ${proc.pid} ${reason}\n`);
    const was = this.#state;
    if (was === "stopping") return; // #stop finishes the transition
    this.#startAbort?.abort();
    this.#setState("stopped");
    if (was === "ready") {
      this.#hooks.log?.("warn", `${this.spec.id}: upstream ${reason} unexpectedly`);
      this.#hooks.onCrash?.(this.spec.id, reason);
    }
  }

  #setState(next: ModelState): void {
    const previous = this.#state;
    if (previous === next) return;
    this.#state = next;
    this.#hooks.onState?.(this.spec.id, previous, next);
  }
}
