/**
 * One running modelswap: logs, watchdog, router and HTTP server wired
 * together, with graceful shutdown. `main.ts` builds it from the command
 * line; tests can build it in-process.
 */
import type { ListenAddress } from "./cli.ts";
import { ConfigError } from "./config/issue.ts";
import type { ConfigPaths } from "./config/sources.ts";
import { buildApp } from "./http/app.ts";
import type { ReloadOutcome } from "./http/config-editor.ts";
import { LogFiles } from "./logging/files.ts";
import { MemoryMonitor } from "./memory/monitor.ts";
import { PerformanceMonitor } from "./observability/performance.ts";
import { type LogLevel, LogHub, Logger } from "./logging/logger.ts";
import { Observability } from "./observability/observer.ts";
import { Router } from "./router.ts";
import { openStore } from "./store/open.ts";
import type { HttpServer, Runtime, TlsCertificate } from "./runtime/runtime.ts";
import { formatHost } from "./runtime/shared.ts";
import type { Setup } from "./setup.ts";
import { OrphanGuard } from "./upstream/orphans.ts";
import { ContextStore } from "./upstream/context.ts";
import { ExternalServer } from "./upstream/external.ts";
import { modelProcess } from "./upstream/kinds.ts";
import { LifecycleRunner } from "./upstream/lifecycle.ts";
import { Upstream } from "./upstream/upstream.ts";
import { VERSION } from "./version.ts";

/** Options for {@link ModelswapServer.start}. */
export interface ServerOptions {
  runtime: Runtime;
  /** The loaded config and what was built from it. */
  setup: Setup;
  listen: ListenAddress;
  /** Serve HTTPS with this certificate (read at startup; reloads keep it). */
  tls?: TlsCertificate | null;
  /** Overrides `config.logLevel` (from `--log-level`). */
  logLevel?: LogLevel | null;
  /** Where combined log output goes (stdout), or null. */
  out: ((text: string) => void) | null;
  /** Reads and validates the config file again (SIGHUP, `--watch-config`). */
  reloadConfig?: () => Promise<Setup>;
  /** The config's files as given (`reloadConfig` reads them): the dashboard's config editor shows and replaces the -config file. */
  configPaths?: ConfigPaths;
}

/** How long in-flight requests may run on after a shutdown signal. */
const DRAIN_MS = 10_000;

/** A serving modelswap instance. */
export class ModelswapServer {
  readonly logs: LogHub;
  readonly log: Logger;
  #router: Router;
  readonly #http: HttpServer;
  readonly #scheme: "http" | "https";
  readonly #orphans: OrphanGuard;
  #shuttingDown: Promise<void> | null = null;
  #reloadConfig: (() => Promise<Setup>) | null = null;
  #cliLogLevel: LogLevel | null = null;
  #reloading: Promise<ReloadOutcome> | null = null;
  #reloadAgain: Promise<ReloadOutcome> | null = null;
  #observability: Observability | null = null;
  #logFiles: LogFiles | undefined;
  #memory: MemoryMonitor | null = null;
  #performance: PerformanceMonitor | undefined;

  private constructor(logs: LogHub, log: Logger, router: Router, http: HttpServer, tls: boolean, orphans: OrphanGuard) {
    this.logs = logs;
    this.log = log;
    this.#router = router;
    this.#http = http;
    this.#scheme = tls ? "https" : "http";
    this.#orphans = orphans;
  }

  /** Start serving; resolves once the port is bound and preloads were started. */
  static async start(options: ServerOptions): Promise<ModelswapServer> {
    const { runtime, setup } = options;
    const { config } = setup;
    const logs = new LogHub(config.logToStdout, options.out, config.logBufferBytes);
    logs.redactor.set(setup.secrets);
    const log = new Logger(logs.proxy, options.logLevel ?? config.logLevel, config.logTimeFormat);
    for (const warning of setup.warnings) log.warn(`config: ${warning}`);
    // First: a store file that cannot be used stops the start before anything else is set up.
    const store = await openStore(runtime, config.store.path, (message) => log.warn(message));
    const orphans = await OrphanGuard.start(runtime, (message) => log.warn(message));
    const observer = new Observability({ router: () => server.#router, logs, version: VERSION, store });
    const logFiles = config.logDir ? new LogFiles(runtime, config.logDir, (message) => log.warn(message)) : undefined;
    const contexts = new ContextStore(runtime, {
      maxBytes: config.contextCache.maxBytes,
      timeoutMs: config.contextCache.timeout * 1000,
      warn: (message) => log.warn(message),
    });
    // The memory planner's measuring side and the hardware view; its book outlives config reloads.
    const memory = new MemoryMonitor({
      runtime,
      log,
      running: () => server.#router.status().filter((s) => s.state !== "stopped" && s.state !== "failed").map((s) => s.model),
      envOf: (model) => server.#router.config.models[model]?.env ?? {},
    });
    const planner = memory.bind(setup.planner);
    await memory.start();
    // llama-swap's performance monitor (/api/performance), read at startup like llama-swap's.
    const performance = config.performance.disabled ? undefined : new PerformanceMonitor({
      proc: (path) => runtime.readTextFile(path),
      // GPUs only from readings someone asked for (/api/hardware, /api/performance, a scrape): the poller spawns no GPU tool.
      gpus: () => Promise.resolve(memory.recentGpus(config.performance.every)),
    }, config.performance.every);
    void performance?.start();
    observer.metrics.useHardware(() => {
      const gauges = memory.gauges();
      return gauges && { ...gauges, system: performance?.latest() ?? null };
    });
    const lifecycle = new LifecycleRunner(runtime, contexts, observer);
    const router = new Router({ ...setup, planner }, {
      log,
      observer,
      lifecycle,
      processes: (spec, hooks) => {
        logFiles?.attach(spec.id, logs.model(spec.id));
        // A model without cmd is a server that runs already; one behind a non-http proxy cannot be reached (kinds.ts).
        return modelProcess(spec, {
          command: (s) => new Upstream(s, runtime, logs.model(s.id), { ...hooks, groups: orphans, ...memory.hooks(hooks) }),
          external: (s) => new ExternalServer(s, logs.model(s.id), hooks),
        });
      },
    });
    // Assigned once below; the app and the observer read it lazily, after that.
    // deno-lint-ignore prefer-const
    let server!: ModelswapServer;
    const configEditor = options.configPaths && options.reloadConfig
      ? { paths: options.configPaths, files: runtime, env: runtime.envAll(), selfArgv: runtime.selfArgv, reload: () => server.reload() }
      : undefined;
    const app = buildApp({ router: () => server.#router, logs, observer, observability: observer, version: VERSION, memory, performance, configEditor });
    // Saves of an earlier run are found before the first request can ask for them.
    await lifecycle.ready();
    const http = await runtime.serve({
      hostname: options.listen.hostname,
      port: options.listen.port,
      // The HTTP layer enforces maxBodyBytes (it can change on reload, and answers a proper 413).
      maxRequestBodySize: 2 ** 40,
      fetch: (request, info) => app.fetch(request, info),
      limits: config.server,
      onWarning: (message) => log.warn(message),
      tls: options.tls ?? undefined,
    });
    server = new ModelswapServer(logs, log, router, http, Boolean(options.tls), orphans);
    server.#reloadConfig = options.reloadConfig ?? null;
    server.#observability = observer;
    server.#logFiles = logFiles;
    server.#memory = memory;
    server.#performance = performance;
    server.#cliLogLevel = options.logLevel ?? null;
    const models = Object.keys(config.models).length;
    log.notice(`modelswap ${VERSION} (${runtime.name}) listening on ${server.url} with ${models} model${models === 1 ? "" : "s"}`);
    if (http.hostname !== "127.0.0.1" && http.hostname !== "localhost" && http.hostname !== "::1") {
      log.warn(`listening on ${http.hostname}: reachable by other hosts${config.apiKeys.length ? "" : " and no apiKeys are set"}`);
    }
    for (const model of config.hooks.onStartup.preload) {
      router.load(model).then(
        () => log.info(`preload: ${model} ready`),
        (error) => log.warn(`preload: ${model} failed: ${error instanceof Error ? error.message.split("\n")[0] : error}`),
      );
    }
    return server;
  }

  /** The router currently serving. */
  get router(): Router {
    return this.#router;
  }

  /** Base URL, e.g. `http://127.0.0.1:8080` or `https://127.0.0.1:8443`. */
  get url(): string {
    return `${this.#scheme}://${formatHost(this.#http.hostname)}:${this.#http.port}`;
  }

  /**
   * Graceful shutdown: stop accepting, let in-flight requests finish for a
   * bounded time, stop every upstream and wait until each is reaped.
   */
  shutdown(): Promise<void> {
    this.#shuttingDown ??= this.#shutdown();
    return this.#shuttingDown;
  }

  /**
   * Reload the config file. An invalid file is reported and the running
   * config stays; a valid one is applied without touching unchanged models.
   * A reload asked for while one runs reads the files again after it (one
   * more run for everyone who asked meanwhile), so it sees what they are now.
   */
  reload(): Promise<ReloadOutcome> {
    if (this.#reloading === null) {
      this.#reloading = this.#reload().finally(() => (this.#reloading = null));
      return this.#reloading;
    }
    const again = () => {
      this.#reloadAgain = null;
      return this.reload();
    };
    this.#reloadAgain ??= this.#reloading.then(again, again);
    return this.#reloadAgain;
  }

  async #reload(): Promise<ReloadOutcome> {
    if (this.#shuttingDown) return { applied: false, reason: "modelswap is shutting down" };
    if (!this.#reloadConfig) return { applied: false, reason: "there is no config file to reload" };
    let result: Setup;
    try {
      result = await this.#reloadConfig();
    } catch (error) {
      const detail = error instanceof ConfigError
        ? error.issues.map((i) => `  ${i.path}: ${i.message}`).join("\n")
        : String(error instanceof Error ? error.message : error);
      this.log.error(`config reload failed; the running config stays in effect:\n${detail}`);
      return { applied: false, reason: detail.trim() };
    }
    this.logs.redactor.set(result.secrets);
    for (const warning of result.warnings) this.log.warn(`config: ${warning}`);
    const planner = this.#memory!.bind(result.planner);
    await this.#memory!.start();
    const changes = this.#router.reconfigure({ ...result, planner });
    const { added, changed, removed } = changes;
    this.log.setLevel(this.#cliLogLevel ?? result.config.logLevel);
    this.log.setTimeFormat(result.config.logTimeFormat);
    const list = (label: string, ids: string[]) => (ids.length ? ` ${label}: ${ids.join(", ")};` : "");
    this.log.info(`config reloaded;${list("added", added)}${list("changed", changed)}${list("removed", removed)}${added.length + changed.length + removed.length ? "" : " no model changed"}`);
    return { applied: true, changes };
  }

  /** Second Ctrl-C: kill every upstream group now. */
  kill(): void {
    this.#router.kill();
  }

  async #shutdown(): Promise<void> {
    this.log.info("shutting down: no new requests; waiting for in-flight ones");
    void this.#http.stop(false);
    const deadline = Date.now() + DRAIN_MS;
    while (Date.now() < deadline && this.#router.status().some((s) => s.inFlight > 0)) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await this.#router.shutdown();
    await this.#logFiles?.flushed();
    this.#observability?.close();
    this.#performance?.stop();
    this.#orphans.close();
    await this.#http.stop(true);
    this.log.info("shutdown complete: every upstream stopped");
  }
}
