/**
 * Test doubles for the router: model processes whose starts and stops the
 * test completes by hand, and a clock the test moves. A whole router is
 * built in-process from a YAML config, with no process or port involved.
 */
import type { Clock } from "../../src/clock.ts";
import { ModelswapError } from "../../src/errors.ts";
import { LogBuffer } from "../../src/logging/buffer.ts";
import { Logger } from "../../src/logging/logger.ts";
import { Router } from "../../src/router.ts";
import { parseSetup } from "../../src/setup.ts";
import type { UpstreamSpec } from "../../src/upstream/spec.ts";
import type { ModelState } from "../../src/upstream/state.ts";
import type { ModelProcess, ProcessStatus, UpstreamConnection, UpstreamHooks } from "../../src/upstream/upstream.ts";
import { NOTHING_DONE, type ReadyReport, type StopReport } from "../../src/upstream/lifecycle.ts";

/** A clock that moves only when the test says so, firing what falls due on the way. */
export class FakeClock implements Clock {
  #now = 1_000_000;
  #timers: Array<{ at: number; wake: () => void }> = [];

  now(): number {
    return this.#now;
  }

  wakeAt(at: number, wake: () => void): () => void {
    const timer = { at, wake };
    this.#timers.push(timer);
    return () => (this.#timers = this.#timers.filter((t) => t !== timer));
  }

  /** Move time forward by `ms`, firing every timer due by then, in time order. */
  advance(ms: number): void {
    const until = this.#now + ms;
    for (;;) {
      const due = this.#timers.filter((t) => t.at <= until).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.#timers = this.#timers.filter((t) => t !== due);
      this.#now = Math.max(this.#now, due.at);
      due.wake();
    }
    this.#now = until;
  }
}

/** A model process that becomes ready and stops only when the test says so. */
export class FakeProcess implements ModelProcess {
  state: ModelState = "stopped";
  configuredSpec: UpstreamSpec;
  /** The spec of the current (or last) start. */
  startedWith: UpstreamSpec | null = null;
  starts = 0;
  stops = 0;
  killed = false;
  #hooks: UpstreamHooks;
  #watchers: Array<{ state: ModelState; resolve(): void }> = [];
  #starting: { resolve(): void; reject(error: Error): void; promise: Promise<void> } | null = null;
  #stopping: { resolve(): void; promise: Promise<void> } | null = null;

  constructor(spec: UpstreamSpec, hooks: UpstreamHooks) {
    this.configuredSpec = spec;
    this.#hooks = hooks;
  }

  get id(): string {
    return this.configuredSpec.id;
  }

  ensureReady(): Promise<ReadyReport> {
    if (this.state === "ready") return Promise.resolve(NOTHING_DONE);
    if (this.#starting) return this.#starting.promise.then(() => NOTHING_DONE);
    if (this.#stopping) return this.#stopping.promise.then(() => this.ensureReady());
    this.starts++;
    this.startedWith = this.configuredSpec;
    this.#set("starting");
    let resolve!: () => void;
    let reject!: (error: Error) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    this.#starting = { resolve, reject, promise };
    return promise.then(() => NOTHING_DONE);
  }

  /** The start in progress succeeds. */
  ready(): void {
    const starting = this.#starting!;
    this.#starting = null;
    this.#set("ready");
    starting.resolve();
  }

  /** The start in progress fails (the process exited). */
  failStart(message = "exited with code 1"): void {
    const starting = this.#starting!;
    this.#starting = null;
    this.#set("stopped");
    starting.reject(new ModelswapError(502, "upstream_start_failed", `model "${this.id}" failed to start: ${message}`, { model: this.id }));
  }

  stop(): Promise<StopReport> {
    if (this.#stopping) return this.#stopping.promise.then(() => NOTHING_DONE);
    if (this.state === "stopped") return Promise.resolve(NOTHING_DONE);
    this.stops++;
    this.#set("stopping");
    let resolve!: () => void;
    const promise = new Promise<void>((res) => (resolve = res));
    this.#stopping = { resolve, promise };
    return promise.then(() => NOTHING_DONE);
  }

  /** The stop in progress completes: the process was reaped. */
  exited(): void {
    const stopping = this.#stopping!;
    this.#stopping = null;
    this.#set("stopped");
    stopping.resolve();
  }

  /** The ready process dies on its own. */
  crash(): void {
    this.#set("stopped");
    this.#hooks.onCrash?.(this.id, "exited with code 9");
  }

  kill(): void {
    this.killed = true;
  }

  updateSpec(spec: UpstreamSpec): void {
    this.configuredSpec = spec;
  }

  connection(): UpstreamConnection | null {
    if (this.state !== "ready") return null;
    return {
      baseUrl: this.configuredSpec.baseUrl,
      touch: () => {},
      failure: (cause) => Promise.resolve(new ModelswapError(502, "upstream_unreachable", String(cause))),
    };
  }

  status(): ProcessStatus {
    return { state: this.state, pid: null, baseUrl: this.configuredSpec.baseUrl, restarts: Math.max(0, this.starts - 1), lastExit: null, uptimeMs: null };
  }

  /** Resolves when the process is next in `state` (at once if it is now). */
  whenState(state: ModelState): Promise<void> {
    if (this.state === state) return Promise.resolve();
    return new Promise((resolve) => this.#watchers.push({ state, resolve }));
  }

  #set(state: ModelState): void {
    const from = this.state;
    this.state = state;
    this.#hooks.onState?.(this.id, from, state);
    for (const watcher of this.#watchers.filter((w) => w.state === state)) watcher.resolve();
    this.#watchers = this.#watchers.filter((w) => w.state !== state);
  }
}

/** A router on fake processes and a fake clock, built from YAML. */
export class RouterRig {
  readonly clock = new FakeClock();
  readonly processes = new Map<string, FakeProcess>();
  readonly logs = new LogBuffer(64 * 1024);
  readonly router: Router;

  constructor(yaml: string) {
    this.router = new Router(parseSetup(yaml, { env: {}, selfArgv: ["modelswap"] }), {
      log: new Logger(this.logs, "debug"),
      clock: this.clock,
      processes: (spec, hooks) => {
        const process = new FakeProcess(spec, hooks);
        this.processes.set(spec.id, process);
        return process;
      },
    });
  }

  /** The fake process of a model. */
  process(id: string): FakeProcess {
    const process = this.processes.get(id);
    if (!process) throw new Error(`no process for ${id}`);
    return process;
  }

  /** Apply a new config, as a reload does. */
  reload(yaml: string): ReturnType<Router["reconfigure"]> {
    return this.router.reconfigure(parseSetup(yaml, { env: {}, selfArgv: ["modelswap"] }));
  }

  /** Router log text so far. */
  get log(): string {
    return this.logs.history();
  }
}
