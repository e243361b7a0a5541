/**
 * llama-swap's groups as an eviction policy. Every model belongs to one
 * group; ungrouped models form the hidden "(default)" group (swap, exclusive).
 * For a target in group G and a running model r in group R:
 * - R = G: evict r when G swaps (siblings replace each other);
 * - R ≠ G: evict r when G is exclusive and R is not persistent.
 * Exclusivity is one-directional: a non-exclusive group's model never stops
 * models outside its group, even those of an exclusive group (llama-swap #215).
 */
import type { Planner } from "../effects.ts";

/** One group as configured. */
export interface GroupSpec {
  /** Only one member runs at a time. */
  swap: boolean;
  /** Loading a member stops every non-persistent model of other groups. */
  exclusive: boolean;
  /** Other groups' exclusive loads never stop this group's models. */
  persistent: boolean;
  members: string[];
}

/** Name of the hidden group of models that belong to no configured group. */
export const DEFAULT_GROUP = "(default)";

const DEFAULT_SPEC: GroupSpec = { swap: true, exclusive: true, persistent: false, members: [] };

/** Eviction by group rules. Construct through `buildPlanner`, which validates membership. */
export class GroupsPlanner implements Planner {
  readonly #groupOf = new Map<string, { name: string; spec: GroupSpec }>();
  readonly #default = { name: DEFAULT_GROUP, spec: DEFAULT_SPEC };

  constructor(groups: Record<string, GroupSpec>) {
    for (const [name, spec] of Object.entries(groups)) {
      const group = { name, spec };
      for (const member of spec.members) this.#groupOf.set(member, group);
    }
  }

  /** Running models the target's group rules stop (in `running` order). */
  evictionFor(target: string, running: string[]): string[] {
    const group = this.#group(target);
    return running.filter((model) => {
      if (model === target) return false;
      const other = this.#group(model);
      if (other === group) return group.spec.swap;
      return group.spec.exclusive && !other.spec.persistent;
    });
  }

  /** e.g. `group "coding" (swap, exclusive)`. */
  explain(target: string, _running: string[]): string {
    const { name, spec } = this.#group(target);
    const rules = [spec.swap ? "swap" : "no swap", spec.exclusive ? "exclusive" : "not exclusive"].join(", ");
    return `group "${name}" (${rules})`;
  }

  #group(model: string): { name: string; spec: GroupSpec } {
    return this.#groupOf.get(model) ?? this.#default;
  }
}
