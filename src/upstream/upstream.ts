/**
 * One upstream server process per model and its state machine
 * `stopped → starting → ready → stopping → stopped` (plus `failed` after a
 * crash loop). Every transition happens inside this object: callers ask for
 * `ensureReady()` or `stop()` and never branch a mutation on a state they read.
 */
import { ModelswapError } from "../errors.ts";
import type { ChildProcess, ExitStatus, Runtime } from "../runtime/runtime.ts";
import { FailureWindow } from "./failures.ts";
import { waitHealthy } from "./health.ts";
import { watchLiveness } from "./liveness.ts";
import type { LogBuffer } from "../logging/buffer.ts";
import { keepTail, OutputCapture } from "./lines.ts";
import { choosePort, freePort } from "./port.ts";
import type { SavedContext } from "./context.ts";
import { type LifecycleRunner, NOTHING_DONE, type ReadyReport, type StepTarget, type StopReport } from "./lifecycle.ts";
import type { UpstreamSpec } from "./spec.ts";
import type { ModelState } from "./state.ts";

/**
 * What a request granted a ready model may know of its process: where to
 * send the request, a way to report progress, and a way to learn why an
 * exchange failed. Bound to the one process it was handed out for.
 */
export interface UpstreamConnection {
  /** Base URL of the server, e.g. `http://127.0.0.1:5800`. */
  readonly baseUrl: string;
  /** A response byte arrived: proof of life for hang detection. */
  touch(): void;
  /**
   * Why an exchange with this process failed: if the process died (it is
   * given a moment to be reaped, since the broken connection usually comes
   * first), how it exited and its last output; otherwise the transport error.
   */
  failure(cause: unknown, when: string): Promise<ModelswapError>;
}

/** Facts about a model's process for the status views. */
export interface ProcessStatus {
  state: ModelState;
  pid: number | null;
  baseUrl: string;
  /** Times the process was started, minus the first one. */
  restarts: number;
  /** Why the last process ended, e.g. `exited with code 1`. */
  lastExit: string | null;
  /** Milliseconds since the process became ready, or null. */
  uptimeMs: number | null;
  /** The context saved at its last planned stop (keepContext), or null. */
  savedContext?: SavedContext | null;
}

/** What the router needs of one model's process: {@link Upstream}, or a fake in tests. */
export interface ModelProcess {
  /** The settings as the config gave them (compared on reload). */
  readonly configuredSpec: UpstreamSpec;
  /** Current state (advisory). */
  readonly state: ModelState;
  /** Start it if needed; resolves with what the start's steps did (restore, hooks) once it is ready. */
  ensureReady(): Promise<ReadyReport>;
  /** A planned stop, saying why (for a client whose request it cuts); resolves with what its steps did. */
  stop(why?: string): Promise<StopReport>;
  /** SIGKILL the whole process group now (second Ctrl-C). */
  kill(): void;
  updateSpec(spec: UpstreamSpec): void;
  /** The ready process to send requests to, or null when it is not ready. */
  connection(): UpstreamConnection | null;
  status(): ProcessStatus;
}

/** One spawned process and what it left behind. */
interface Run {
  proc: ChildProcess;
  /** Its last lines of output, for error messages. */
  tail: string[];
  /** How it ended, once it has. */
  exitReason: string | null;
  /** Why modelswap stopped it on purpose, if it did. */
  stoppedBecause: string | null;
}

/** Where the process group is reported so it dies with the router (see orphans.ts). */
export interface GroupTracker {
  track(pgid: number, argv: string[]): void;
  untrack(pgid: number): void;
}

/** Callbacks an upstream uses to report what happened to it. */
export interface UpstreamHooks {
  onState?(id: string, from: ModelState, to: ModelState): void;
  /** The process exited (or was killed as hung) while it was ready. */
  onCrash?(id: string, reason: string): void;
  log?(level: "debug" | "info" | "warn", message: string): void;
  groups?: GroupTracker;
  /** Carries out the steps around each start and planned stop (context, hooks). */
  lifecycle?: LifecycleRunner;
  /** Called before each spawn; the spec it returns is started (argv and env only: e.g. the GPUs this start gets). */
  beforeStart?(spec: UpstreamSpec): UpstreamSpec;
  /** The process passed its health check; `pgid` is its process group (e.g. to measure its memory). */
  onReady?(id: string, pgid: number): void;
}

/** Human wording of an exit status: `exited with code 3` / `killed by signal SIGKILL`. */
export function describeExit(status: ExitStatus): string {
  return status.signal ? `killed by signal ${status.signal}` : `exited with code ${status.code}`;
}

/** Lines of the current run's output kept for error messages. */
const TAIL_LINES = 12;
/** How long a failed exchange waits for its process's exit to be known. */
const EXIT_GRACE_MS = 500;
/** Starts tried on fresh ports when the assigned one is taken just as the server binds it. */
const PORT_RETRIES = 3;
/** How servers (llama-server, Bun, Node, Python, Go) report a port that is already taken. */
const PORT_TAKEN = /address already in use|EADDRINUSE|couldn't bind|could not bind|bind\(\) failed|failed to bind/i;

/** A supervised upstream process. */
export class Upstream implements ModelProcess {
  readonly log: LogBuffer;
  #spec: UpstreamSpec;
  #configured: UpstreamSpec;
  #nextSpec: UpstreamSpec | null = null;
  #state: ModelState = "stopped";
  #proc: ChildProcess | null = null;
  #run: Run | null = null;
  #exitReason: string | null = null;
  #hungReason: string | null = null;
  #starting: Promise<ReadyReport> | null = null;
  #stopping: Promise<StopReport> | null = null;
  /** Why the current planned stop happens, for clients whose requests it cuts. */
  #stopWhy: string | null = null;
  /** Aborted when a stop is requested during a start. */
  #startAbort: AbortController | null = null;
  /** Aborted when the process being started exits. */
  #exitAbort: AbortController | null = null;
  #stopLiveness: () => void = () => {};
  #readyAt: number | null = null;
  #lastProgress = 0;
  #starts = 0;
  #failures: FailureWindow;
  readonly #runtime: Runtime;
  readonly #hooks: UpstreamHooks;

  constructor(spec: UpstreamSpec, runtime: Runtime, log: LogBuffer, hooks: UpstreamHooks = {}) {
    this.#spec = spec;
    this.#configured = spec;
    this.#runtime = runtime;
    this.log = log;
    this.#hooks = hooks;
    this.#failures = new FailureWindow({ maxFailures: spec.supervision.maxFailures, windowMs: spec.supervision.failureWindowMs });
    hooks.lifecycle?.prepare(spec.id, spec.lifecycle);
  }

  /** The settings as the config gave them (before a port fallback). */
  get configuredSpec(): UpstreamSpec {
    return this.#configured;
  }

  /** New settings from a config reload; they take effect at the next start and clear a failed state. */
  updateSpec(spec: UpstreamSpec): void {
    this.#configured = spec;
    this.#hooks.lifecycle?.prepare(spec.id, spec.lifecycle);
    this.#failures = new FailureWindow({ maxFailures: spec.supervision.maxFailures, windowMs: spec.supervision.failureWindowMs });
    if (this.#state === "failed") this.#setState("stopped");
    if (this.#state === "stopped") this.#spec = spec;
    else this.#nextSpec = spec;
  }

  /** Current state (advisory). */
  get state(): ModelState {
    return this.#state;
  }

  /** Facts for the status views. */
  status(now = Date.now()): ProcessStatus {
    return {
      state: this.#state,
      pid: this.#proc?.pid ?? null,
      baseUrl: this.#spec.baseUrl,
      restarts: Math.max(0, this.#starts - 1),
      lastExit: this.#exitReason,
      uptimeMs: this.#readyAt === null ? null : now - this.#readyAt,
      savedContext: this.#hooks.lifecycle?.saved(this.#spec.id) ?? null,
    };
  }

  /** The ready process to send requests to, or null when the model is not ready. */
  connection(): UpstreamConnection | null {
    const run = this.#run;
    if (this.#state !== "ready" || run === null || this.#proc !== run.proc) return null;
    const { baseUrl } = this.#spec;
    return {
      baseUrl,
      touch: () => {
        this.#lastProgress = Date.now();
      },
      failure: (cause, when) => this.#describeFailure(run, baseUrl, cause, when),
    };
  }

  /** SIGKILL the process group now, without waiting (second Ctrl-C). */
  kill(): void {
    if (this.#proc) this.#runtime.killGroup(this.#proc.pid, "SIGKILL");
  }

  /** Where a user reads this model's output. */
  get #logHint(): string {
    return `GET /logs/stream/${this.#spec.id}`;
  }

  async #describeFailure(run: Run, baseUrl: string, cause: unknown, when: string): Promise<ModelswapError> {
    const id = this.#spec.id;
    const grace = AbortSignal.timeout(EXIT_GRACE_MS);
    await Promise.race([run.proc.exited, new Promise((resolve) => grace.addEventListener("abort", resolve, { once: true }))]);
    if (run.stoppedBecause !== null) {
      return new ModelswapError(502, "upstream_stopped", `model "${id}" was stopped ${when}: ${run.stoppedBecause}`, { model: id });
    }
    if (run.exitReason !== null) {
      const output = run.tail.length ? ` Last output:\n${run.tail.join("\n")}` : "";
      return new ModelswapError(
        502,
        "upstream_crashed",
        `model "${id}" upstream ${run.exitReason} ${when}; the next request restarts it.${output}\n(full log: ${this.#logHint})`,
        { model: id, exit_reason: run.exitReason, log_path: this.#logHint },
      );
    }
    const reason = cause instanceof Error ? cause.message : String(cause);
    return new ModelswapError(502, "upstream_unreachable", `model "${id}" upstream at ${baseUrl} failed ${when}: ${reason}`, { model: id });
  }

  /**
   * Resolve once the server answers its health check, starting it if
   * needed. Concurrent callers share one start; a caller arriving while the
   * process is stopping waits for the stop, then starts it again. A model in
   * a crash loop is refused (503) until its failure window passes.
   */
  ensureReady(): Promise<ReadyReport> {
    switch (this.#state) {
      case "ready":
        return Promise.resolve(NOTHING_DONE);
      case "starting":
        return this.#starting!;
      case "stopping":
        return this.#stopping!.then(() => this.ensureReady());
      default: {
        const blocked = this.#failures.blocked();
        if (blocked) {
          this.#setState("failed");
          const until = new Date(blocked.until).toISOString();
          return Promise.reject(
            new ModelswapError(503, "model_failed", `model "${this.#spec.id}" is disabled: it ${blocked.message}. It will be retried after ${until}; fix models.${this.#spec.id} and reload the config, or POST /api/models/unload/${this.#spec.id} to retry now. Log: ${this.#logHint}`, { model: this.#spec.id, exit_reason: this.#exitReason ?? undefined, log_path: this.#logHint }, Math.ceil((blocked.until - Date.now()) / 1000)),
          );
        }
        if (this.#state === "failed") this.#setState("stopped");
        this.#starting = this.#start().finally(() => (this.#starting = null));
        return this.#starting;
      }
    }
  }

  /**
   * Stop the process: a ready one first runs its steps (save its context,
   * `before_unload`), then `cmdStop` or SIGTERM to its process group,
   * SIGKILL to the group after `unloadTimeout`. Resolves only once the
   * process is reaped. Aborts a start in progress; clears a failed state.
   * Idempotent. `why` tells clients whose requests it cuts what happened.
   */
  stop(why = "it was stopped by modelswap"): Promise<StopReport> {
    return this.#stopWithin(this.#spec.unloadTimeoutMs, why);
  }

  #stopWithin(graceMs: number, why: string): Promise<StopReport> {
    if (this.#stopping) return this.#stopping;
    if (!this.#proc) {
      this.#startAbort?.abort();
      this.#failures.reset();
      if (this.#state === "failed") this.#setState("stopped");
      return Promise.resolve(NOTHING_DONE);
    }
    this.#stopWhy = why;
    this.#stopping = this.#stop(this.#proc, graceMs).finally(() => (this.#stopping = null));
    return this.#stopping;
  }

  async #start(): Promise<ReadyReport> {
    if (this.#nextSpec) {
      this.#spec = this.#nextSpec;
      this.#nextSpec = null;
    }
    this.#setState("starting");
    const startAbort = new AbortController();
    this.#startAbort = startAbort;
    const backoff = this.#failures.backoffMs();
    if (backoff > 0) {
      this.#hooks.log?.("info", `${this.#spec.id}: failed recently; waiting ${backoff} ms before starting it again`);
      await new Promise((resolve) => setTimeout(resolve, backoff));
      if (startAbort.signal.aborted) return this.#abortedStart();
    }
    for (let attempt = 1; ; attempt++) {
      const spec = await this.#specWithFreePort();
      if (startAbort.signal.aborted) return this.#abortedStart();
      const started = await this.#spawnAndWait(spec, startAbort);
      if (started !== "port taken") return started;
      if (attempt >= PORT_RETRIES) throw this.#startFailure(`${this.#exitReason} before becoming ready: its port was taken each time`);
      this.#hooks.log?.("warn", `${spec.id}: port ${spec.port} was taken as it started; retrying on another port`);
      this.#moveToPort(await freePort(this.#runtime));
    }
  }

  /**
   * Spawn the process, wait for its health check, then run the start's
   * steps (restore its context, `after_load`) before it counts as ready.
   * Resolves "port taken" when it exited at once because its port was taken
   * (the caller retries on another port); throws for any other failure.
   */
  async #spawnAndWait(spec: UpstreamSpec, startAbort: AbortController): Promise<ReadyReport | "port taken"> {
    const { id, baseUrl, checkEndpoint } = spec;
    const { argv, env } = this.#hooks.beforeStart?.(spec) ?? spec;
    this.#exitReason = null;
    this.#hungReason = null;
    let proc: ChildProcess;
    try {
      proc = this.#runtime.spawn({ argv, env, newProcessGroup: true, output: "pipe" });
    } catch (error) {
      this.#setState("stopped");
      const reason = error instanceof Error ? error.message : String(error);
      const failure = new ModelswapError(502, "upstream_start_failed", `model "${id}" could not be started: cannot run "${argv[0]}": ${reason}. Check models.${id}.cmd.`, { model: id });
      this.#failures.record(failure.message);
      throw failure;
    }
    this.#starts++;
    this.#proc = proc;
    const run: Run = { proc, tail: [], exitReason: null, stoppedBecause: null };
    this.#run = run;
    this.#hooks.groups?.track(proc.pid, argv);
    this.log.write(`[modelswap] ${id} started ${new Date().toISOString()} pid ${proc.pid} port ${spec.port ?? new URL(baseUrl).port}: ${argv.join(" ")}\n`);
    // Output is captured bounded (cut lines, a rate limit, reading on a budget): see lines.ts.
    const capture = new OutputCapture((text) => {
      this.log.write(text);
      keepTail(run.tail, text, TAIL_LINES);
    });
    const output = [proc.stdout, proc.stderr].map((stream) => (stream ? capture.pipe(stream) : Promise.resolve()));
    void proc.exited.then((status) => this.#onExit(run, status));
    this.#hooks.log?.("info", `${id}: starting pid=${proc.pid} ${argv.join(" ")}`);

    const exited = new AbortController();
    this.#exitAbort = exited;
    const startedAt = Date.now();
    const outcome = checkEndpoint === null
      ? "healthy"
      : await waitHealthy(baseUrl + checkEndpoint, startedAt + spec.healthCheckTimeoutMs, AbortSignal.any([startAbort.signal, exited.signal]));

    const steps = outcome === "healthy" && this.#proc === proc ? await this.#afterReady(spec) : NOTHING_DONE;
    if (outcome === "healthy" && this.#proc === proc && this.#state === "starting") {
      this.#readyAt = Date.now();
      this.#failures.succeeded();
      this.#setState("ready");
      this.#hooks.onReady?.(id, proc.pid);
      this.#watchLiveness(proc);
      this.#hooks.log?.("debug", `${id}: healthy ${this.#readyAt - startedAt} ms after spawn`);
      return steps;
    }
    if (this.#exitReason !== null && this.#proc !== proc) {
      await Promise.all(output); // the last lines say why
      if (spec.port !== null && PORT_TAKEN.test(run.tail.join("\n")) && !startAbort.signal.aborted) {
        this.#setState("starting");
        return "port taken";
      }
      throw this.#startFailure(`${this.#exitReason} before becoming ready`);
    }
    if (outcome === "timeout") {
      await this.#stopWithin(5000, "it did not become healthy in time");
      throw this.#startFailure(`did not answer ${checkEndpoint} with 200 within ${spec.healthCheckTimeoutMs / 1000}s (healthCheckTimeout)`, "upstream_start_timeout");
    }
    return this.#abortedStart();
  }

  #abortedStart(): never {
    if (this.#state === "starting") this.#setState("stopped");
    throw new ModelswapError(503, "model_unloaded", `model "${this.#spec.id}" was stopped while it was starting`, { model: this.#spec.id });
  }

  /**
   * The spec to start with: if another process holds the assigned port (a
   * leftover server, an unrelated program), pick a free one instead of
   * failing, and keep it for later starts.
   */
  async #specWithFreePort(): Promise<UpstreamSpec> {
    const spec = this.#spec;
    if (spec.port === null) return spec;
    const port = await choosePort(this.#runtime, spec.port);
    if (port === spec.port) return spec;
    this.#hooks.log?.("warn", `${spec.id}: port ${spec.port} is in use by another process; using port ${port} instead`);
    this.#moveToPort(port);
    return this.#spec;
  }

  /** Rewrite the assigned port in argv and the base URL (kept for later starts). */
  #moveToPort(port: number): void {
    const spec = this.#spec;
    const swap = (text: string) => text.replace(new RegExp(`(?<![0-9])${spec.port}(?![0-9])`, "g"), String(port));
    this.#spec = { ...spec, port, argv: spec.argv.map(swap), baseUrl: swap(spec.baseUrl) };
  }

  #startFailure(what: string, code = "upstream_start_failed"): ModelswapError {
    const tail = this.#run?.tail ?? [];
    const output = tail.length ? ` Last output:\n${tail.join("\n")}` : " It printed nothing.";
    const failure = new ModelswapError(502, code, `model "${this.#spec.id}" failed to start: ${what}.${output}\n(full log: ${this.#logHint})`, {
      model: this.#spec.id,
      exit_reason: this.#exitReason ?? undefined,
      log_path: this.#logHint,
    });
    this.#failures.record(`${what}`);
    return failure;
  }

  #watchLiveness(proc: ChildProcess): void {
    const { checkEndpoint, baseUrl, supervision } = this.#spec;
    if (checkEndpoint === null || supervision.probeIntervalMs <= 0) return;
    this.#lastProgress = Date.now();
    this.#stopLiveness = watchLiveness({
      url: baseUrl + checkEndpoint,
      intervalMs: supervision.probeIntervalMs,
      timeoutMs: supervision.probeTimeoutMs,
      hungAfter: supervision.hungAfter,
      lastProgress: () => this.#lastProgress,
      onHung: (reason) => {
        if (this.#proc !== proc || this.#state !== "ready") return;
        this.#hungReason = reason;
        this.#hooks.log?.("warn", `${this.#spec.id}: ${reason}; killing it`);
        this.#runtime.killGroup(proc.pid, "SIGKILL");
      },
    });
  }

  /** The steps of a start that passed its health check (the process still counts as starting meanwhile). */
  #afterReady(spec: UpstreamSpec): Promise<ReadyReport> {
    return this.#hooks.lifecycle?.afterReady(this.#stepTarget(spec)) ?? Promise.resolve(NOTHING_DONE);
  }

  #stepTarget(spec: UpstreamSpec): StepTarget {
    return { id: spec.id, lifecycle: spec.lifecycle, baseUrl: spec.baseUrl, env: spec.env, log: this.log };
  }

  async #stop(proc: ChildProcess, graceMs: number): Promise<StopReport> {
    const { id, stopArgv } = this.#spec;
    const wasReady = this.#state === "ready";
    if (this.#run?.proc === proc) this.#run.stoppedBecause = this.#stopWhy;
    this.#startAbort?.abort();
    this.#stopLiveness();
    this.#failures.reset();
    this.#setState("stopping");
    // A planned stop of a serving process saves what it holds first; a crash never gets here.
    const steps = wasReady && this.#hooks.lifecycle ? await this.#hooks.lifecycle.beforeStop(this.#stepTarget(this.#spec)) : NOTHING_DONE;
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
    return steps;
  }

  #runStopCommand(argv: string[]): void {
    try {
      const stopper = this.#runtime.spawn({ argv, env: this.#spec.env, output: "pipe" });
      const capture = new OutputCapture((text) => this.log.write(text));
      for (const stream of [stopper.stdout, stopper.stderr]) if (stream) void capture.pipe(stream);
    } catch (error) {
      this.#hooks.log?.("warn", `${this.#spec.id}: cmdStop failed (${error}); sending SIGTERM instead`);
      if (this.#proc) this.#runtime.killGroup(this.#proc.pid, "SIGTERM");
    }
  }

  #onExit(run: Run, status: ExitStatus): void {
    const { proc } = run;
    // Anything left in the group (a grandchild) goes with the leader.
    this.#runtime.killGroup(proc.pid, "SIGKILL");
    this.#hooks.groups?.untrack(proc.pid);
    if (this.#proc !== proc) {
      run.exitReason = describeExit(status);
      return;
    }
    const reason = this.#hungReason ? `${this.#hungReason}; killed (${describeExit(status)})` : describeExit(status);
    run.exitReason = reason;
    this.#exitReason = reason;
    this.#proc = null;
    this.#readyAt = null;
    this.#stopLiveness();
    this.log.write(`[modelswap] ${this.#spec.id} pid ${proc.pid} ${reason}\n`);
    const was = this.#state;
    if (was === "stopping") return; // #stop finishes the transition
    this.#exitAbort?.abort();
    this.#setState("stopped");
    if (was === "ready") {
      this.#failures.record(`crashed: ${reason}`);
      this.#hooks.log?.("warn", `${this.#spec.id}: upstream ${reason} unexpectedly (log: ${this.#logHint})`);
      this.#hooks.onCrash?.(this.#spec.id, reason);
    }
  }

  #setState(next: ModelState): void {
    const previous = this.#state;
    if (previous === next) return;
    this.#state = next;
    this.#hooks.onState?.(this.#spec.id, previous, next);
  }
}
