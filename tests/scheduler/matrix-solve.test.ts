/**
 * The matrix solver (reference §4.7 table #1–#11), set enumeration and
 * tie-break order, validation with config paths, and solve speed.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { buildPlanner, type RoutingConfig } from "../../src/scheduler/planners/build.ts";
import { PlannerConfigError } from "../../src/scheduler/planners/issue.ts";
import { compileMatrix, type MatrixSpec, type Program } from "../../src/scheduler/planners/matrix/program.ts";
import { MatrixPlanner, projectedStates, solveMatrix } from "../../src/scheduler/planners/matrix/solve.ts";
import { Rig } from "./fakes.ts";

function program(spec: Partial<MatrixSpec> & { sets: Array<[string, string]> }, models: string[]): Program {
  const compiled = compileMatrix({ vars: {}, evictCosts: {}, ...spec }, models, "matrix");
  if (compiled.program === null) throw new Error(compiled.issues.map((i) => `${i.path}: ${i.message}`).join("\n"));
  return compiled.program;
}

function matrix(spec: Partial<MatrixSpec> & { sets: Array<[string, string]> }): RoutingConfig {
  return { use: "matrix", groups: {}, matrix: { vars: {}, evictCosts: {}, ...spec } };
}

const BASIC = {
  vars: { g: "gemma", q: "qwen", m: "mistral", v: "voxtral", L: "llama70B" },
  evictCosts: { v: 50, L: 30 },
  sets: [["standard", "(g | q | m) & v"], ["full", "L"]] as Array<[string, string]>,
};
const BASIC_MODELS = ["gemma", "qwen", "mistral", "voxtral", "llama70B"];

function large(): { models: string[]; dsl: string } {
  const models = ["target", "outside"];
  const groups: string[] = [];
  for (let d = 0; d < 6; d++) {
    const alternatives = Array.from({ length: 10 }, (_, i) => `model-${d}-${i}`);
    models.push(...alternatives);
    groups.push(`(${alternatives.join(" | ")})`);
  }
  return { models, dsl: `target & ${groups.join(" & ")}` };
}

describe("solver table (reference §4.7)", () => {
  const rows: Array<{
    n: number;
    spec: Partial<MatrixSpec> & { sets: Array<[string, string]> };
    models: string[];
    running: string[];
    request: string;
    evict: string[];
    explain: string;
  }> = [
    {
      n: 1,
      spec: BASIC,
      models: BASIC_MODELS,
      running: ["voxtral"],
      request: "gemma",
      evict: [],
      explain: "set=standard evict=[] cost=0",
    },
    {
      n: 2,
      spec: BASIC,
      models: BASIC_MODELS,
      running: ["voxtral"],
      request: "llama70B",
      evict: ["voxtral"],
      explain: "set=full evict=[voxtral] cost=50",
    },
    {
      n: 3,
      spec: {
        vars: { g: "gemma", q: "qwen", m: "mistral", v: "voxtral", e: "reranker" },
        sets: [["llms", "g|q|m"], ["with_tts", "+llms & v"], ["mega", "+with_tts & e"]],
      },
      models: ["gemma", "qwen", "mistral", "voxtral", "reranker"],
      running: ["gemma", "voxtral"],
      request: "reranker",
      evict: [],
      explain: "set=mega evict=[] cost=0",
    },
    {
      n: 4,
      spec: { sets: [["first", "a & b"], ["second", "a & c"]] },
      models: ["a", "b", "c"],
      running: [],
      request: "a",
      evict: [],
      explain: "set=first evict=[] cost=0",
    },
    {
      n: 5,
      spec: { evictCosts: { b: 10, c: 1 }, sets: [["a_with_c", "a & c"], ["a_with_b", "a & b"]] },
      models: ["a", "b", "c"],
      running: ["b", "c"],
      request: "a",
      evict: ["c"],
      explain: "set=a_with_b evict=[c] cost=1",
    },
    {
      n: 6,
      spec: { sets: [["s_a", "a"], ["s_b", "b"]] },
      models: ["a", "b"],
      running: ["a"],
      request: "b",
      evict: ["a"],
      explain: "set=s_b evict=[a] cost=1",
    },
    {
      n: 7,
      spec: { sets: [["s_ab", "a & b"]] },
      models: ["a", "b"],
      running: ["a"],
      request: "b",
      evict: [],
      explain: "set=s_ab evict=[] cost=0",
    },
    {
      n: 8,
      spec: { sets: [["base", "a & b"], ["extended", "target & +base & b"]] },
      models: ["a", "b", "target"],
      running: ["a", "b"],
      request: "target",
      evict: [],
      explain: "set=extended evict=[] cost=0",
    },
    {
      n: 9,
      spec: { sets: [["preferred", "target & (a | (a & b))"]] },
      models: ["a", "b", "target"],
      running: ["a", "b"],
      request: "target",
      evict: [],
      explain: "set=preferred evict=[] cost=0",
    },
    {
      n: 10,
      spec: { sets: [["known", "a & b"]] },
      models: ["a", "b", "missing"],
      running: ["a", "b"],
      request: "missing",
      evict: ["a", "b"],
      explain: "no set contains missing: running alone",
    },
    {
      n: 11,
      spec: { sets: [["large", large().dsl]] },
      models: large().models,
      running: ["model-0-9", "model-1-9", "model-2-9", "model-3-9", "model-4-9", "model-5-9", "outside"],
      request: "target",
      evict: ["outside"],
      explain: "set=large evict=[outside] cost=1",
    },
  ];
  for (const row of rows) {
    test(`#${row.n}: request ${row.request} with [${row.running.join(", ")}] running`, () => {
      const planner = buildPlanner(matrix(row.spec), row.models, "");
      assert.deepEqual(planner.evictionFor(row.request, row.running), row.evict);
      assert.equal(planner.explain(row.request, row.running), row.explain);
    });
  }

  test("a running target evicts nothing", () => {
    const planner = buildPlanner(matrix(BASIC), BASIC_MODELS, "");
    assert.deepEqual(planner.evictionFor("gemma", ["gemma", "llama70B"]), []);
  });
});

describe("set enumeration", () => {
  const cases: Array<[string, string[][]]> = [
    ["a & b", [["a", "b"]]],
    ["a | b | c", [["a"], ["b"], ["c"]]],
    ["(a|b)&(c|d)", [["a", "c"], ["a", "d"], ["b", "c"], ["b", "d"]]],
    ["a | b & c", [["a"], ["b", "c"]]],
    ["a & a", [["a"]]],
  ];
  for (const [dsl, states] of cases) {
    test(dsl, () => {
      const p = program({ sets: [["s", dsl]] }, ["a", "b", "c", "d"]);
      assert.deepEqual(projectedStates(p, "s", ["a", "b", "c", "d"]), states);
    });
  }

  test("references inline the referenced set", () => {
    const models = ["g", "q", "m", "v", "e"];
    const p = program({ sets: [["llms", "g|q|m"], ["with_tts", "+llms & v"], ["mega", "+with_tts & e"]] }, models);
    assert.deepEqual(projectedStates(p, "mega", models), [["g", "v", "e"], ["q", "v", "e"], ["m", "v", "e"]]);
  });

  test("ties go to a referenced set before the set that references it", () => {
    const p = program({ sets: [["uses", "a & +base"], ["base", "a & b"]] }, ["a", "b"]);
    assert.deepEqual(p.sets.map((s) => s.name), ["base", "uses"]);
    assert.equal(solveMatrix(p, "a", ["b"]).set, "base");
  });

  test("vars take precedence over a model with the same name", () => {
    const p = program({ vars: { a: "b" }, sets: [["s", "a & c"]] }, ["a", "b", "c"]);
    assert.deepEqual(solveMatrix(p, "b", ["c"]).evict, []);
    assert.equal(solveMatrix(p, "a", ["c"]).set, null, "model a is in no set: the name means var a");
  });
});

describe("matrix planner", () => {
  test("explain right after evictionFor reuses the solve", () => {
    const p = program({ sets: [["s_a", "a"], ["s_b", "b"]] }, ["a", "b"]);
    let reads = 0;
    const counted: Program = {
      costs: p.costs,
      get sets() {
        reads++;
        return p.sets;
      },
    };
    const planner = new MatrixPlanner(counted);
    planner.evictionFor("b", ["a"]);
    const afterSolve = reads;
    assert.equal(planner.explain("b", ["a"]), "set=s_b evict=[a] cost=1");
    assert.equal(reads, afterSolve, "explain did not solve again");
    planner.explain("a", ["b"]);
    assert.ok(reads > afterSolve, "a different question is solved");
  });

  test("the scheduler queues an incompatible model behind a loading one, and loads coexisting ones in parallel", () => {
    const incompatible = new Rig(buildPlanner(matrix({ sets: [["s_a", "a"], ["s_b", "b"]] }), ["a", "b"], ""));
    const a = incompatible.request("a");
    incompatible.request("b");
    assert.deepEqual(incompatible.world.swaps.map((s) => s.target), ["a"]);
    incompatible.finishSwap("a");
    incompatible.serveDone(a);
    assert.deepEqual(incompatible.world.swapTo("b").evict, ["a"]);
    assert.equal(incompatible.world.swapTo("b").reason, "set=s_b evict=[a] cost=1");

    const coexisting = new Rig(buildPlanner(matrix({ sets: [["s_ab", "a & b"]] }), ["a", "b"], ""));
    coexisting.request("a");
    coexisting.request("b");
    assert.deepEqual(coexisting.world.swaps.map((s) => [s.target, s.evict]), [["a", []], ["b", []]]);
  });

  test("70 models in 6 groups of 10 alternatives solve in well under 1 ms", () => {
    const { models, dsl } = large();
    const p = program({ sets: [["large", dsl]] }, models);
    const runnings = [
      ["model-0-9", "model-1-9", "model-2-9", "model-3-9", "model-4-9", "model-5-9", "outside"],
      models.filter((m) => m.endsWith("-3") || m === "outside"),
    ];
    for (let i = 0; i < 50; i++) solveMatrix(p, "target", runnings[i % 2]); // warm up
    const rounds = 500;
    const started = performance.now();
    for (let i = 0; i < rounds; i++) solveMatrix(p, "target", runnings[i % 2]);
    const perSolve = (performance.now() - started) / rounds;
    assert.ok(perSolve < 1, `one solve took ${perSolve.toFixed(3)} ms`);
  });
});

describe("matrix validation", () => {
  function issues(spec: MatrixSpec | null, models = ["a", "b", "c"], prefix = "routing.router.settings") {
    try {
      buildPlanner({ use: "matrix", groups: {}, matrix: spec }, models, prefix);
    } catch (error) {
      assert.ok(error instanceof PlannerConfigError);
      return error.issues;
    }
    assert.fail("expected a PlannerConfigError");
  }
  const spec = (over: Partial<MatrixSpec>): MatrixSpec => ({ vars: {}, evictCosts: {}, sets: [["s", "a"]], ...over });

  test("at least one set", () => {
    assert.deepEqual(issues(spec({ sets: [] })).map((i) => i.path), ["routing.router.settings.matrix.sets"]);
  });

  test("a matrix router with no matrix", () => {
    const [issue] = issues(null);
    assert.equal(issue.path, "routing.router.settings.matrix");
    assert.match(issue.message, /no matrix is defined/);
  });

  test("var names and targets", () => {
    const found = issues(spec({ vars: { my_var: "a", ok: "nope", ["x".repeat(33)]: "a" } }));
    assert.deepEqual(found.map((i) => i.path), [
      "routing.router.settings.matrix.vars.my_var",
      "routing.router.settings.matrix.vars.ok",
      `routing.router.settings.matrix.vars.${"x".repeat(33)}`,
    ]);
    assert.match(found[0].message, /var name "my_var" is invalid.*no '_'/);
    assert.match(found[1].message, /"nope", which is not a configured model id/);
  });

  test("evict costs: positive, keyed by a var or model id", () => {
    const found = issues(spec({ vars: { v: "a" }, evictCosts: { v: 0, b: -1, zz: 5 } }));
    assert.deepEqual(found.map((i) => i.path.split(".").pop()), ["v", "b", "zz"]);
    assert.match(found[0].message, /greater than 0 \(got 0\)/);
    assert.match(found[2].message, /"zz" is neither a var nor a model id/);
  });

  test("syntax errors point at the set, column and expected token", () => {
    const [issue] = issues(spec({ sets: [["full", "(a | b"]] }), ["a", "b"], "");
    assert.equal(issue.path, "matrix.sets.full");
    assert.match(issue.message, /missing closing parenthesis.*column 7 in "\(a \| b"/);
  });

  test("unknown identifiers and references give their column", () => {
    const found = issues(spec({ sets: [["s", "a & zz"], ["t", "+nope | a"]] }));
    assert.match(found[0].message, /unknown model or var "zz" at column 5 in "a & zz"/);
    assert.equal(found[1].path, "routing.router.settings.matrix.sets.t");
    assert.match(found[1].message, /"\+nope" at column 1 .*names no set; defined sets: s, t/);
  });

  test("reference cycles", () => {
    const found = issues(spec({ sets: [["x", "+y"], ["y", "a & +x"], ["self", "+self"]] }));
    assert.deepEqual(found.map((i) => i.message.match(/cycle: (.*);/)?.[1]), ["x -> y -> x", "self -> self"]);
  });

  test("every problem is reported at once", () => {
    const found = issues({ vars: { a_b: "a" }, evictCosts: { q: 1 }, sets: [["s", "a &"], ["t", "zz"]] });
    assert.equal(found.length, 4);
  });
});
