import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { assertIssue, issuesOf, load } from "./helpers.ts";

const models = `
models:
  a: { cmd: "a --port \${PORT}", aliases: [alpha] }
  b: { cmd: "b --port \${PORT}" }
  c: { cmd: "c --port \${PORT}" }
`;

describe("routing", () => {
  it("reads legacy top-level groups with llama-swap's defaults", () => {
    const { config } = load(`
groups:
  g1: { members: [a, b] }
  g2: { swap: false, exclusive: false, persistent: true, members: [c] }
${models}`);
    assert.deepEqual(config.routing.use, "group");
    assert.equal(config.routing.pathPrefix, "");
    assert.deepEqual(config.routing.groups, {
      g1: { swap: true, exclusive: true, persistent: false, members: ["a", "b"] },
      g2: { swap: false, exclusive: false, persistent: true, members: ["c"] },
    });
    assert.equal(config.routing.matrix, null);
  });

  it("reads a legacy top-level matrix", () => {
    const { config } = load(`
matrix:
  vars: { A: a }
  evict_costs: { A: 5 }
  sets: { both: "A & b", alone: "c" }
${models}`);
    assert.equal(config.routing.use, "matrix");
    assert.equal(config.routing.pathPrefix, "");
    assert.deepEqual(config.routing.matrix, {
      vars: { A: "a" },
      evictCosts: { A: 5 },
      sets: [["both", "A & b"], ["alone", "c"]],
    });
  });

  it("reads routing.router with groups and matrix side by side; use picks one", () => {
    const block = (use: string) => `
routing:
  router:
    use: ${use}
    settings:
      groups: { g: { members: [a] } }
      matrix: { sets: { s: "a | b" } }
${models}`;
    const matrix = load(block("matrix")).config.routing;
    assert.equal(matrix.use, "matrix");
    assert.equal(matrix.pathPrefix, "routing.router.settings");
    assert.deepEqual(matrix.matrix?.sets, [["s", "a | b"]]);
    assert.deepEqual(matrix.groups, {});
    const group = load(block("group")).config.routing;
    assert.equal(group.use, "group");
    assert.equal(group.matrix, null);
    assert.deepEqual(Object.keys(group.groups), ["g"]);
  });

  it("keeps matrix sets in the user's order, even with integer-like names", () => {
    const { config } = load(`
routing:
  router:
    use: matrix
    settings:
      matrix:
        sets:
          zeta: "a"
          "2": "b"
          1: "c"
          alpha: "a & b"
${models}`);
    assert.deepEqual(config.routing.matrix?.sets.map(([name]) => name), ["zeta", "2", "1", "alpha"]);
  });

  it("reads the fifo scheduler settings and resolves priority aliases to ids", () => {
    const { config } = load(`
routing:
  scheduler:
    use: fifo
    settings:
      fifo:
        priority: { alpha: 10, b: -1 }
        starvationTimeout: 0
        maxQueue: 50
${models}`);
    assert.deepEqual(config.routing.scheduler, { priority: { a: 10, b: -1 }, starvationTimeout: 0, maxQueue: 50 });
    assert.equal(config.routing.pathPrefix, "", "no routing.router block: legacy (default) layout");
  });

  it("refuses mixing legacy groups or matrix with routing.router, and both legacy blocks", () => {
    assertIssue(
      issuesOf(`groups: { g: { members: [a] } }\nrouting: { router: { use: group } }\n${models}`),
      "groups",
      /cannot be combined with routing\.router; move it under routing\.router\.settings/,
    );
    assertIssue(
      issuesOf(`groups: { g: { members: [a] } }\nmatrix: { sets: { s: a } }\n${models}`),
      "matrix",
      /cannot use both top-level groups and matrix/,
    );
  });

  it("refuses use: matrix without a matrix, unknown routers and schedulers", () => {
    assertIssue(issuesOf(`routing: { router: { use: matrix } }\n${models}`), "routing.router.settings.matrix", /is required when routing\.router\.use is matrix/);
    const issues = issuesOf(`routing: { router: { use: lru }, scheduler: { use: fairshare } }\n${models}`);
    assertIssue(issues, "routing.router.use", /one of group, matrix, memory \(got "lru"\)/);
    assertIssue(issues, "routing.scheduler.use", /one of fifo \(got "fairshare"\)/);
  });

  it("refuses priorities for unknown models and duplicate priorities via an alias", () => {
    const issues = issuesOf(`routing: { scheduler: { settings: { fifo: { priority: { ghost: 1, a: 2, alpha: 3 } } } } }\n${models}`);
    assertIssue(issues, "routing.scheduler.settings.fifo.priority.ghost", /unknown model 'ghost'/);
    assertIssue(issues, "routing.scheduler.settings.fifo.priority.alpha", /priority of model a a second time/);
  });

  it("merges the planner's validation issues, at the path where the block lives", () => {
    assertIssue(
      issuesOf(`routing: { router: { settings: { groups: { g: { members: [a, ghost] } } } } }\n${models}`),
      "routing.router.settings.groups.g.members[1]",
      /ghost/,
    );
    assertIssue(issuesOf(`groups: { g: { members: [ghost] } }\n${models}`), "groups.g.members[0]", /ghost/);
    assertIssue(
      issuesOf(`routing: { router: { use: matrix, settings: { matrix: { sets: { full: "a & (b" } } } } }\n${models}`),
      "routing.router.settings.matrix.sets.full",
      /./,
    );
  });
});
