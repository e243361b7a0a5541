/**
 * What a config file turns into: the validated config, the eviction policy
 * built from its routing block, and the per-model process specs and
 * scheduler settings derived from it. The config layer knows nothing of the
 * scheduler or the processes; this is where the three meet.
 */
import { splitCommand } from "./config/command.ts";
import type { ConfigIssue } from "./config/issue.ts";
import { loadConfigFile, type LoadOptions, type LoadResult, parseConfig } from "./config/load.ts";
import type { Config } from "./config/schema.ts";
import type { Planner } from "./scheduler/effects.ts";
import { buildPlanner } from "./scheduler/planners/build.ts";
import { PlannerConfigError } from "./scheduler/planners/issue.ts";
import type { SchedulerSettings } from "./scheduler/scheduler.ts";
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
        planner = buildPlanner(config.routing, Object.keys(config.models), config.routing.pathPrefix);
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
  return { ...parseConfig(yamlText, { ...options, check: planner.check }), planner: planner.built() };
}

/** Reads and parses a config file (a file that cannot be read is a ConfigError too). */
export async function loadSetupFile(path: string, readTextFile: (p: string) => Promise<string>, options: LoadOptions): Promise<Setup> {
  const planner = plannerCheck();
  return { ...(await loadConfigFile(path, readTextFile, { ...options, check: planner.check })), planner: planner.built() };
}

/** How every configured model is run. */
export function upstreamSpecs(config: Config): UpstreamSpec[] {
  return Object.keys(config.models).map((id) => upstreamSpec(config, id));
}

/** How the configured model `id` is run. */
function upstreamSpec(config: Config, id: string): UpstreamSpec {
  const model = config.models[id];
  return {
    id,
    argv: splitCommand(model.cmd),
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
  };
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
