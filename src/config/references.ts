/**
 * Checks between parts of a config that the per-field schema cannot see:
 * unique aliases, names reserved for peer models, and every place that names
 * a model (preload, priority, selectors, profiles). Names given as aliases in
 * preload and priority are resolved to model ids in place; a selector in
 * preload stands for its first target, and preload names that are no local
 * model are dropped with a warning, as llama-swap drops them.
 */
import type { ConfigIssue } from "./issue.ts";
import type { Config } from "./schema.ts";

/** What a name a user may request refers to. */
type Target = { kind: "local"; id: string } | { kind: "peer"; fqn: string } | { kind: "selector" };

/** Validates cross-references, pushing each problem to `issues`; resolves preload and priority names to ids. */
export function checkReferences(config: Config, issues: ConfigIssue[], warnings: string[]): void {
  const local = checkAliases(config, issues);
  const peers = checkPeers(config, local, issues);
  const resolve = (name: string): Target | undefined => {
    const id = local.get(name);
    if (id !== undefined) return { kind: "local", id };
    if (peers.fqns.has(name)) return { kind: "peer", fqn: name };
    const bare = peers.byModel.get(name);
    if (bare?.length === 1) return { kind: "peer", fqn: bare[0] };
    if (Object.hasOwn(config.selectors, name)) return { kind: "selector" };
    return undefined;
  };

  const dropped: string[] = [];
  const preload = config.hooks.onStartup.preload.flatMap((name) => {
    const id = local.get(name);
    if (id !== undefined) return [id];
    // A selector preloads the target it picks while nothing is loaded: its first (peers need no loading).
    const first = Object.hasOwn(config.selectors, name) ? resolve(config.selectors[name].targets[0]) : undefined;
    if (first?.kind === "local") return [first.id];
    if (first === undefined) dropped.push(name);
    return [];
  });
  config.hooks.onStartup.preload = [...new Set(preload)];
  if (dropped.length > 0) {
    warnings.push(
      `hooks.on_startup.preload: ${dropped.map((name) => `'${name}'`).join(", ")} ${dropped.length === 1 ? "names" : "name"} no local model, alias or selector; ` +
        "llama-swap drops such names silently; modelswap drops them too",
    );
  }

  const priority: Record<string, number> = {};
  for (const [name, value] of Object.entries(config.routing.scheduler.priority)) {
    const path = `routing.scheduler.settings.fifo.priority.${name}`;
    const id = local.get(name);
    if (id === undefined) issues.push({ path, message: `unknown model '${name}'; use a model id or alias from models` });
    else if (id in priority) issues.push({ path, message: `sets the priority of model ${id} a second time; keep one entry` });
    else priority[id] = value;
  }
  config.routing.scheduler.priority = priority;

  for (const [id, selector] of Object.entries(config.selectors)) {
    const path = `selectors.${id}`;
    if (local.has(id)) issues.push({ path, message: `'${id}' is already a model id or alias; give the selector its own name` });
    if (peers.fqns.has(id)) issues.push({ path, message: `'${id}' is reserved for a peer model; give the selector another name` });
    const localTargets: string[] = [];
    selector.targets.forEach((name, i) => {
      const target = resolve(name);
      const at = `${path}.targets[${i}]`;
      if (target === undefined) {
        issues.push({ path: at, message: `unknown target '${name}'; use a model id, alias or peer model (peer/model)` });
      } else if (target.kind === "selector") {
        issues.push({ path: at, message: `'${name}' is a selector; a selector's targets must be models` });
      } else if (target.kind === "peer" && selector.strategy === "warm") {
        issues.push({ path: at, message: `'${name}' is a peer model, but warm selectors need local models` });
      } else if (target.kind === "local") {
        localTargets.push(target.id);
      }
    });
    if (selector.strategy === "spillover") checkSpilloverCoexists(config, id, localTargets, issues);
  }

  for (const [name, profile] of Object.entries(config.profiles)) {
    for (const [pin, target] of Object.entries(profile.pins)) {
      const path = `profiles.${name}.pins.${pin}`;
      if (pin.trim() === "") issues.push({ path: `profiles.${name}.pins`, message: "pin names may not be empty" });
      else if (peers.fqns.has(pin)) issues.push({ path, message: `'${pin}' is reserved for a peer model; pin another name` });
      if (target !== null && resolve(target) === undefined) {
        issues.push({ path, message: `unknown target '${target}'; use a model id, alias, peer model or selector (or leave it empty to disable ${pin})` });
      }
    }
  }
}

/** Builds name → model id for ids and aliases, reporting aliases that are not unique. */
function checkAliases(config: Config, issues: ConfigIssue[]): Map<string, string> {
  const owners = new Map<string, string>();
  const ids = Object.keys(config.models).sort();
  for (const id of ids) owners.set(id, id);
  for (const id of ids) {
    const model = config.models[id];
    model.aliases.forEach((alias, i) => {
      const path = Object.hasOwn(model.filters.setParamsByID, alias)
        ? `models.${id}.filters.setParamsByID.${alias}`
        : `models.${id}.aliases[${i}]`;
      const owner = owners.get(alias);
      if (owner === alias) {
        issues.push({ path, message: `'${alias}' is already the id of a model; an alias must differ from every model id` });
      } else if (owner !== undefined && owner !== id) {
        issues.push({ path, message: `duplicate alias '${alias}': model ${owner} already uses it; aliases must be unique` });
      } else {
        owners.set(alias, id);
      }
    });
  }
  return owners;
}

/** Peer model names (`peer/model`) and bare model names; reports duplicates and local names that take a peer's name. */
function checkPeers(config: Config, local: Map<string, string>, issues: ConfigIssue[]) {
  const fqns = new Map<string, string>();
  const byModel = new Map<string, string[]>();
  for (const peerId of Object.keys(config.peers).sort()) {
    config.peers[peerId].models.forEach((model, i) => {
      const fqn = `${peerId}/${model}`;
      const other = fqns.get(fqn);
      if (other !== undefined) {
        issues.push({ path: `peers.${peerId}.models[${i}]`, message: `'${fqn}' is also the name of a model of peer ${other}; peer model names must be unique` });
        return;
      }
      fqns.set(fqn, peerId);
      byModel.set(model, [...byModel.get(model) ?? [], fqn]);
    });
  }
  for (const [name, id] of local) {
    if (fqns.has(name)) {
      issues.push({
        path: name === id ? `models.${id}` : `models.${id}.aliases`,
        message: `'${name}' is reserved for model ${name.slice(name.indexOf("/") + 1)} of peer ${fqns.get(name)}; rename it`,
      });
    }
  }
  // A bare name that is itself some peer's full name is not a bare alias.
  for (const name of byModel.keys()) if (fqns.has(name)) byModel.delete(name);
  return { fqns, byModel };
}

/** Spillover sends requests to several targets at once, so with groups they must share a group with `swap: false`. */
function checkSpilloverCoexists(config: Config, selector: string, targets: string[], issues: ConfigIssue[]): void {
  const distinct = [...new Set(targets)];
  if (distinct.length < 2 || config.routing.use !== "group") return;
  const together = Object.values(config.routing.groups).some((group) =>
    !group.swap && distinct.every((id) => group.members.includes(id))
  );
  if (!together) {
    issues.push({
      path: `selectors.${selector}.targets`,
      message: `spillover targets must be able to run together: put ${distinct.join(", ")} in one group with swap: false`,
    });
  }
}
