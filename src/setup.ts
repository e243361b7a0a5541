/**
 * What a config file turns into: the validated config, the eviction policy
 * built from its routing block, and the per-model process specs and
 * scheduler settings derived from it. The config layer knows nothing of the
 * scheduler or the processes; this is where the three meet.
 */
import { splitCommand } from "./config/command.ts";
import type { ConfigIssue } from "./config/issue.ts";
import { type ConfigSource, type LoadOptions, type LoadResult, parseConfig, parseConfigSources } from "./config/load.ts";
import type { Config } from "./config/schema.ts";
import type { Planner } from "./scheduler/effects.ts";
import { buildPlanner } from "./scheduler/planners/build.ts";
import { PlannerConfigError } from "./scheduler/planners/issue.ts";
import type { SchedulerSettings } from "./scheduler/scheduler.ts";
import type { ContextSpec } from "./upstream/context.ts";
import type { HookSpec } from "./upstream/hooks.ts";
import type { UpstreamSpec } from "./upstream/spec.ts";

/** A usable config and the planner built from it. */
export interface Setup extends LoadResult {
  planner: Planner;
}

/** Builds the planner as the loader's last check, keeping what it built. */
function plannerCheck(): { check(config: Config): ConfigIssue[]; built(): Planner } {
  let planner: Planner | null = null;
  return {
    check(config) {
      try {
        const memory = Object.fromEntries(Object.entries(config.models).map(([id, m]) => [id, { memory: m.memory, gpus: m.gpus }]));
        planner = buildPlanner(config.routing, Object.keys(config.models), config.routing.pathPrefix, memory);
        return [];
      } catch (error) {
        if (error instanceof PlannerConfigError) return error.issues;
        throw error;
      }
    },
    built: () => planner!,
  };
}

/** Parses and validates config text, routing policy included. Throws ConfigError with every issue found. */
export function parseSetup(yamlText: string, options: LoadOptions): Setup {
  const planner = plannerCheck();
  return withDefaults({ ...parseConfig(yamlText, { ...options, check: planner.check }), planner: planner.built() }, options);
}

/** Parses several config files merged in order (`-config`, then those of `-config-dir`). Throws ConfigError with every issue found. */
export function parseSetupSources(sources: ConfigSource[], options: LoadOptions): Setup {
  const planner = plannerCheck();
  return withDefaults({ ...parseConfigSources(sources, { ...options, check: planner.check }), planner: planner.built() }, options);
}

/** Defaults that depend on the machine: the context cache lives in the OS temp dir unless configured. */
function withDefaults(setup: Setup, options: LoadOptions): Setup {
  setup.config.contextCache.dir ??= `${(options.env.TMPDIR || "/tmp").replace(/\/+$/, "")}/modelswap-context`;
  return setup;
}

/** How every configured model is run. */
export function upstreamSpecs(config: Config): UpstreamSpec[] {
  return Object.keys(config.models).map((id) => upstreamSpec(config, id));
}

/** How the configured model `id` is run. */
function upstreamSpec(config: Config, id: string): UpstreamSpec {
  const model = config.models[id];
  const argv = splitCommand(model.cmd);
  const context = model.keepContext ? contextSpec(config, id, argv) : null;
  return {
    id,
    argv,
    stopArgv: model.cmdStop ? splitCommand(model.cmdStop) : null,
    env: model.env,
    baseUrl: model.proxy.replace(/\/+$/, ""),
    port: model.port,
    checkEndpoint: model.checkEndpoint === "none" ? null : model.checkEndpoint,
    healthCheckTimeoutMs: config.healthCheckTimeout * 1000,
    unloadTimeoutMs: model.unloadTimeout * 1000,
    supervision: {
      maxFailures: config.supervision.maxFailures,
      failureWindowMs: config.supervision.failureWindow * 1000,
      probeIntervalMs: config.supervision.probeInterval * 1000,
      probeTimeoutMs: config.supervision.probeTimeout * 1000,
      hungAfter: config.supervision.hungAfter,
    },
    lifecycle: {
      context,
      beforeUnload: model.hooks.before_unload.map(hookSpec),
      afterLoad: model.hooks.after_load.map(hookSpec),
      hookTimeoutMs: config.hookTimeout * 1000,
    },
  };
}

/**
 * Where a keepContext model's saves go: the directory its command already
 * gives `--slot-save-path`, else one of its own under `contextCache.dir`,
 * added to `argv`. The key is a hash of the command (its port left out, as
 * a taken port may move it), so a changed command never restores a foreign save.
 */
function contextSpec(config: Config, id: string, argv: string[]): ContextSpec {
  const port = config.models[id].port;
  const key = commandKey(argv.map((arg) => (port !== null ? arg.replaceAll(String(port), "${PORT}") : arg)));
  const given = argv.findIndex((arg) => arg === "--slot-save-path" || arg.startsWith("--slot-save-path="));
  if (given >= 0) {
    const dir = argv[given].includes("=") ? argv[given].slice(argv[given].indexOf("=") + 1) : argv[given + 1] ?? "";
    return { dir, key };
  }
  const dir = `${config.contextCache.dir}/${id.replace(/[^A-Za-z0-9._-]/g, "_")}`;
  argv.push("--slot-save-path", dir);
  return { dir, key };
}

/** A short stable hash of a command line (FNV-1a, two 32-bit lanes). */
function commandKey(argv: string[]): string {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ argv.length;
  for (const char of argv.join("\0")) {
    const code = char.codePointAt(0)!;
    a = Math.imul(a ^ code, 0x01000193) >>> 0;
    b = Math.imul(b ^ code, 0x5bd1e995) >>> 0;
  }
  return a.toString(16).padStart(8, "0") + b.toString(16).padStart(8, "0");
}

/** A configured hook as the runner takes it: a command's argv, or a request with its body as text. */
function hookSpec(hook: Config["models"][string]["hooks"]["after_load"][number]): HookSpec {
  if (typeof hook === "string") return { kind: "command", argv: splitCommand(hook) };
  const body = hook.body === undefined ? null : typeof hook.body === "string" ? hook.body : JSON.stringify(hook.body);
  return { kind: "http", method: hook.method, path: hook.path, body };
}

/** Scheduler settings derived from the config. */
export function schedulerSettings(config: Config): SchedulerSettings {
  const { scheduler } = config.routing;
  return {
    isKnown: (model) => Object.hasOwn(config.models, model),
    limitFor: (model) => config.models[model]?.concurrencyLimit ?? 10,
    priorityFor: (model) => scheduler.priority[model] ?? 0,
    ttlFor: (model) => (config.models[model]?.ttl ?? 0) * 1000,
    starvationTimeoutMs: scheduler.starvationTimeout * 1000,
    maxQueue: scheduler.maxQueue,
  };
}
