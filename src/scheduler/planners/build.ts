/**
 * Turns the routing block of the config into the eviction policy, validating
 * it first and reporting every problem at once with the YAML path it came
 * from, so a user fixes a config in one pass.
 */
import type { Planner } from "../effects.ts";
import { ExclusivePlanner } from "./exclusive.ts";
import { PlannerConfigError, type PlannerIssue } from "./issue.ts";
import { type GroupSpec, GroupsPlanner } from "./groups.ts";
import { compileMatrix, type MatrixSpec } from "./matrix/program.ts";
import { MatrixPlanner } from "./matrix/solve.ts";
import { compileMemory, type MemoryConfig, type ModelMemoryConfig } from "./memory/settings.ts";
import { MemoryPlanner } from "./memory/planner.ts";

/** The routing settings the planner is built from (as the config loader normalises them). */
export interface RoutingConfig {
  use: "group" | "matrix" | "memory";
  groups: Record<string, GroupSpec>;
  /** `sets` keeps the user's YAML order (it decides ties). */
  matrix: MatrixSpec | null;
  /** The memory planner's block (`use: memory`), or null/absent. */
  memory?: MemoryConfig | null;
}

/** `use: memory` with no settings: RAM only, budget = total minus 1 GiB, least recently used first. */
const DEFAULT_MEMORY: MemoryConfig = { devices: { ram: "auto" }, reserve: 1024 ** 3, policy: "lru", evictCosts: {} };

function groupIssues(groups: Record<string, GroupSpec>, models: Set<string>, at: (rest: string) => string): PlannerIssue[] {
  const issues: PlannerIssue[] = [];
  const owner = new Map<string, string>();
  for (const [name, group] of Object.entries(groups)) {
    const seen = new Set<string>();
    group.members.forEach((member, i) => {
      const path = at(`groups.${name}.members[${i}]`);
      if (!models.has(member)) {
        issues.push({ path, message: `"${member}" is not a configured model id; list model ids (not aliases) here` });
      } else if (seen.has(member)) {
        issues.push({ path, message: `"${member}" is listed twice in group "${name}"; remove the duplicate` });
      } else if (owner.has(member)) {
        issues.push({
          path,
          message: `"${member}" is already a member of group "${owner.get(member)}"; a model can belong to only one group`,
        });
      }
      seen.add(member);
      if (!owner.has(member)) owner.set(member, name);
    });
  }
  return issues;
}

/**
 * Validates and builds the planner. `pathPrefix` is where the block lives in
 * the user's YAML (`routing.router.settings`, or "" for legacy top-level
 * groups/matrix). With no groups and no matrix, every model is exclusive (the
 * hidden "(default)" group). `memory` holds each model's `memory` and `gpus`
 * keys (read by the memory planner only). Throws PlannerConfigError listing
 * all issues.
 */
export function buildPlanner(
  routing: RoutingConfig,
  modelIds: string[],
  pathPrefix: string,
  memory: Record<string, ModelMemoryConfig> = {},
): Planner {
  const at = (rest: string): string => (pathPrefix ? `${pathPrefix}.${rest}` : rest);
  const models = new Set(modelIds);
  const hasGroups = Object.keys(routing.groups).length > 0;

  if (routing.use === "memory") {
    const compiled = compileMemory(routing.memory ?? DEFAULT_MEMORY, memory, modelIds, at("memory"));
    if (compiled.settings === null) throw new PlannerConfigError(compiled.issues);
    return new MemoryPlanner(compiled.settings);
  }

  if (routing.use === "matrix") {
    const issues: PlannerIssue[] = [];
    if (hasGroups) {
      issues.push({ path: at("groups"), message: "groups and matrix cannot both be set; keep one of them" });
    }
    if (routing.matrix === null) {
      issues.push({ path: at("matrix"), message: "routing uses the matrix but no matrix is defined; add matrix.sets" });
      throw new PlannerConfigError(issues);
    }
    const compiled = compileMatrix(routing.matrix, modelIds, at("matrix"));
    issues.push(...compiled.issues);
    if (issues.length > 0 || compiled.program === null) throw new PlannerConfigError(issues);
    return new MatrixPlanner(compiled.program);
  }

  const issues = groupIssues(routing.groups, models, at);
  if (routing.memory && !hasGroups && routing.matrix === null) {
    issues.push({ path: at("memory"), message: "memory settings are defined but routing uses groups; set routing.router.use: memory, or remove them" });
  }
  if (routing.matrix !== null) {
    const message = hasGroups
      ? "groups and matrix cannot both be set; keep one of them"
      : "a matrix is defined but routing uses groups; select the matrix router or remove the matrix";
    issues.push({ path: at("matrix"), message });
  }
  if (issues.length > 0) throw new PlannerConfigError(issues);
  return hasGroups ? new GroupsPlanner(routing.groups) : new ExclusivePlanner();
}
