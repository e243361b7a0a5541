/**
 * What applying a config would do to the running setup, worked out the way
 * a reload works it out (router.reconfigure → ProcessTable.apply): a model
 * whose process spec (command, env, proxy, port, timeouts, hooks) changed is
 * restarted if it runs, one that was added or removed is started on demand
 * or stopped; anything else is applied in place. The editor shows this
 * before anything is written.
 */
import type { Config } from "../config/schema.ts";
import { upstreamSpecs } from "../setup.ts";
import { sameSpec, type UpstreamSpec } from "../upstream/spec.ts";

/** Settings read only when modelswap starts (key paths): a reload leaves them as they are. */
const STARTUP_ONLY = ["logBufferBytes", "performance", "server", "store.path"];

/** What a reload to a candidate config would do, by model id and setting. */
export interface ReloadPlan {
  /** New models (started when first asked for). */
  added: string[];
  /** Models no longer configured (stopped if they run). */
  removed: string[];
  /** Running (or starting) models whose process spec changed: stopped once idle and started again. */
  restarted: string[];
  /** Stopped models whose process spec changed: the new one is used at their next start. */
  changed: string[];
  /** Models whose other settings changed (names, aliases, ttl, filters…): applied without a restart. */
  updated: string[];
  /** Top-level settings that changed, e.g. `healthCheckTimeout`, `routing`. */
  settings: string[];
  /** Of `settings`, those read only at startup: they take effect when modelswap is restarted. */
  startupOnly: string[];
}

/**
 * The plan for moving from `running` to `candidate`, given the models whose
 * process runs now (starting, ready or stopping).
 */
export function reloadPlan(running: Config, candidate: Config, active: ReadonlySet<string>): ReloadPlan {
  const before = bySpecId(upstreamSpecs(running));
  const after = bySpecId(upstreamSpecs(candidate));
  const plan: ReloadPlan = { added: [], removed: [], restarted: [], changed: [], updated: [], settings: [], startupOnly: [] };
  for (const id of [...after.keys()].sort()) {
    const old = before.get(id);
    if (!old) plan.added.push(id);
    else if (!sameSpec(old, after.get(id)!)) (active.has(id) ? plan.restarted : plan.changed).push(id);
    else if (canonical(running.models[id]) !== canonical(candidate.models[id])) plan.updated.push(id);
  }
  plan.removed = [...before.keys()].filter((id) => !after.has(id)).sort();
  const keys = new Set([...Object.keys(running), ...Object.keys(candidate)]);
  keys.delete("models");
  for (const key of [...keys].sort()) {
    if (canonical(running[key as keyof Config]) === canonical(candidate[key as keyof Config])) continue;
    plan.settings.push(key);
  }
  plan.startupOnly = STARTUP_ONLY.filter((path) => canonical(valueAt(running, path)) !== canonical(valueAt(candidate, path)));
  return plan;
}

/** The value at a dotted key path, e.g. `store.path`. */
function valueAt(config: Config, path: string): unknown {
  return path.split(".").reduce<unknown>((value, key) => (value as Record<string, unknown> | undefined)?.[key], config);
}

function bySpecId(specs: UpstreamSpec[]): Map<string, UpstreamSpec> {
  return new Map(specs.map((spec) => [spec.id, spec]));
}

/** A comparable text of a config value: Maps and regular expressions included, which JSON alone drops. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, item) => {
    if (item instanceof Map) return Object.fromEntries(item);
    if (item instanceof RegExp) return `/${item.source}/${item.flags}`;
    if (item instanceof Set) return [...item];
    return item;
  }) ?? "undefined";
}
