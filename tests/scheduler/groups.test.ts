/**
 * Groups eviction (reference §4.5): each row of llama-swap's table, the
 * scheduler interplay rows, the hidden default group, and membership
 * validation with config paths.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { buildPlanner, type RoutingConfig } from "../../src/scheduler/planners/build.ts";
import { PlannerConfigError } from "../../src/scheduler/planners/issue.ts";
import { ExclusivePlanner } from "../../src/scheduler/planners/exclusive.ts";
import type { GroupSpec } from "../../src/scheduler/planners/groups.ts";
import { Rig } from "./fakes.ts";

const MODELS = ["a", "b", "c", "d"];

function group(members: string[], flags: Partial<Omit<GroupSpec, "members">> = {}): GroupSpec {
  return { swap: true, exclusive: true, persistent: false, ...flags, members };
}

function routing(groups: Record<string, GroupSpec>): RoutingConfig {
  return { use: "group", groups, matrix: null };
}

function planner(groups: Record<string, GroupSpec>) {
  return buildPlanner(routing(groups), MODELS, "");
}

describe("groups table (a running, b requested)", () => {
  const rows: Array<[string, Record<string, GroupSpec>, string[]]> = [
    ["one swapping exclusive group", { g: group(["a", "b"]) }, ["a"]],
    ["swap:false siblings coexist", { g: group(["a", "b"], { swap: false, exclusive: false }) }, []],
    ["two exclusive groups", { g1: group(["a"]), g2: group(["b"]) }, ["a"]],
    [
      "persistent group survives another group's exclusive load",
      { persist: group(["a"], { exclusive: false, persistent: true }), other: group(["b"]) },
      [],
    ],
    [
      "exclusive is one-directional: a non-exclusive load keeps an exclusive group (gotcha #215)",
      { g1: group(["a"], { exclusive: true }), g2: group(["b"], { exclusive: false }) },
      [],
    ],
  ];
  for (const [name, groups, evict] of rows) {
    test(name, () => {
      assert.deepEqual(planner(groups).evictionFor("b", ["a"]), evict);
    });
  }

  test("persistent does not protect against swapping inside its own group", () => {
    const p = planner({ keep: group(["a", "b"], { persistent: true }) });
    assert.deepEqual(p.evictionFor("b", ["a"]), ["a"]);
  });

  test("ungrouped models are in the exclusive (default) group", () => {
    const p = planner({ side: group(["c"], { exclusive: false, swap: false }) });
    assert.deepEqual(p.evictionFor("a", ["b", "c"]), ["b", "c"]);
    assert.deepEqual(p.evictionFor("c", ["a", "b"]), [], "a non-exclusive group stops nothing outside itself");
    assert.equal(p.explain("a", ["b", "c"]), 'group "(default)" (swap, exclusive)');
  });

  test("with no groups and no matrix every model is exclusive", () => {
    const p = buildPlanner(routing({}), MODELS, "");
    assert.ok(p instanceof ExclusivePlanner);
    assert.deepEqual(p.evictionFor("b", ["a", "b", "c"]), ["a", "c"]);
    assert.equal(p.explain("b", ["a"]), "one model at a time: no groups or matrix are configured");
    assert.equal(p.explain("b", []), "nothing else is running");
  });
});

describe("groups with the scheduler", () => {
  test("two non-exclusive groups requested together load in parallel", () => {
    const rig = new Rig(planner({ g1: group(["a"], { exclusive: false }), g2: group(["b"], { exclusive: false }) }));
    rig.request("a");
    rig.request("b");
    assert.deepEqual(rig.world.swaps.map((s) => [s.target, s.evict]), [["a", []], ["b", []]]);
  });

  test("a swap target counts as running: b waits for a's load, then evicts it once idle", () => {
    const rig = new Rig(planner({ g: group(["a", "b"], { exclusive: false }) }));
    const a = rig.request("a");
    rig.request("b");
    assert.deepEqual(rig.world.swaps.map((s) => s.target), ["a"]);
    rig.finishSwap("a");
    rig.serveDone(a);
    assert.deepEqual(rig.world.swapTo("b").evict, ["a"]);
    assert.equal(rig.world.swapTo("b").reason, 'group "g" (swap, not exclusive)');
  });
});

describe("groups validation", () => {
  test("reports every membership problem with its path", () => {
    const groups = {
      g1: group(["a", "zzz", "a"]),
      g2: group(["b", "a"]),
    };
    let error: unknown;
    try {
      buildPlanner(routing(groups), MODELS, "routing.router.settings");
    } catch (e) {
      error = e;
    }
    assert.ok(error instanceof PlannerConfigError);
    assert.deepEqual(error.issues.map((i) => i.path), [
      "routing.router.settings.groups.g1.members[1]",
      "routing.router.settings.groups.g1.members[2]",
      "routing.router.settings.groups.g2.members[1]",
    ]);
    assert.match(error.issues[0].message, /"zzz" is not a configured model id/);
    assert.match(error.issues[1].message, /"a" is listed twice in group "g1"/);
    assert.match(error.issues[2].message, /"a" is already a member of group "g1"/);
    assert.match(error.message, /groups\.g2\.members\[1\]/);
  });

  test("legacy top-level groups get paths without a prefix", () => {
    assert.throws(
      () => buildPlanner(routing({ g1: group(["x"]) }), MODELS, ""),
      (e: unknown) => e instanceof PlannerConfigError && e.issues[0].path === "groups.g1.members[0]",
    );
  });

  test("groups and a matrix together are rejected", () => {
    const config: RoutingConfig = {
      use: "group",
      groups: { g: group(["a"]) },
      matrix: { vars: {}, evictCosts: {}, sets: [["all", "a"]] },
    };
    assert.throws(
      () => buildPlanner(config, MODELS, ""),
      (e: unknown) => e instanceof PlannerConfigError && /cannot both be set/.test(e.issues[0].message),
    );
  });
});
