/**
 * The memory planner (`routing.router.use: memory`): a table of pure
 * scenarios (fits beside, LRU, the fewest victims, idle before busy, cost,
 * exclusive models, `auto` before and after a measurement, GPU choice),
 * config errors with their key paths, and the planner under the scheduler
 * (busy victims are waited for; collation and starvation still hold).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { PlanContext } from "../../src/scheduler/effects.ts";
import { buildPlanner } from "../../src/scheduler/planners/build.ts";
import { PlannerConfigError } from "../../src/scheduler/planners/issue.ts";
import { MemoryBook } from "../../src/scheduler/planners/memory/book.ts";
import { MemoryPlanner } from "../../src/scheduler/planners/memory/planner.ts";
import type { MemoryConfig, ModelMemoryConfig } from "../../src/scheduler/planners/memory/settings.ts";
import { assertIssue, issuesOf, load } from "../config/helpers.ts";
import { IDLE, Rig, settings } from "./fakes.ts";

const GiB = 1024 ** 3;

/** A memory planner over these devices and models (sizes in GiB for brevity). */
function memoryPlanner(
  models: Record<string, ModelMemoryConfig>,
  config: Partial<MemoryConfig> = {},
): MemoryPlanner {
  const block: MemoryConfig = { devices: { gpu0: 24 * GiB, ram: 64 * GiB }, reserve: GiB, policy: "lru", evictCosts: {}, ...config };
  const planner = buildPlanner({ use: "memory", groups: {}, matrix: null, memory: block }, Object.keys(models), "routing.router.settings", models);
  assert.ok(planner instanceof MemoryPlanner);
  return planner;
}

/** A plan context from tables: last use time and requests in flight per model. */
function context(lastUsed: Record<string, number> = {}, inFlight: Record<string, number> = {}): PlanContext {
  return { lastUsed: (model) => lastUsed[model] ?? 0, inFlight: (model) => inFlight[model] ?? 0 };
}

const gpu = (gib: number): ModelMemoryConfig => ({ memory: { gpu0: gib * GiB } });

interface Scenario {
  name: string;
  models: Record<string, ModelMemoryConfig>;
  config?: Partial<MemoryConfig>;
  target: string;
  running: string[];
  lastUsed?: Record<string, number>;
  inFlight?: Record<string, number>;
  evict: string[];
  explains?: RegExp;
}

describe("memory planner: scenarios", () => {
  const scenarios: Scenario[] = [
    {
      name: "fits beside what runs: nothing stops",
      models: { a: gpu(10), b: gpu(8), t: gpu(6) },
      target: "t",
      running: ["a", "b"],
      evict: [],
      explains: /fits beside a, b; gpu0 24 GiB\/24 GiB/,
    },
    {
      name: "does not fit: the least recently used one stops",
      models: { a: gpu(10), b: gpu(10), t: gpu(10) },
      target: "t",
      running: ["a", "b"],
      lastUsed: { a: 500, b: 100 },
      evict: ["b"],
      explains: /stopping b \(idle, least recently used\)/,
    },
    {
      name: "one is not enough: two stop, the fewest that suffice",
      models: { a: gpu(8), b: gpu(8), c: gpu(6), t: gpu(16) },
      target: "t",
      running: ["a", "b", "c"],
      lastUsed: { a: 1, b: 2, c: 3 },
      evict: ["a", "b"],
    },
    {
      name: "the fewest beats the oldest: one big model rather than two small ones",
      models: { small1: gpu(4), small2: gpu(4), big: gpu(12), t: gpu(12) },
      target: "t",
      running: ["big", "small1", "small2"],
      lastUsed: { small1: 1, small2: 2, big: 900 },
      evict: ["big"],
    },
    {
      name: "an idle model stops before a busy one, even a more recently used one",
      models: { a: gpu(12), b: gpu(12), t: gpu(12) },
      target: "t",
      running: ["a", "b"],
      lastUsed: { a: 10, b: 900 },
      inFlight: { a: 2 },
      evict: ["b"],
    },
    {
      name: "two idle models stop rather than one serving model",
      models: { busy: gpu(12), i1: gpu(6), i2: gpu(6), t: gpu(12) },
      target: "t",
      running: ["busy", "i1", "i2"],
      inFlight: { busy: 1 },
      evict: ["i1", "i2"],
    },
    {
      name: "a serving model is chosen only when no idle choice fits",
      models: { busy: gpu(20), idle: gpu(2), t: gpu(10) },
      target: "t",
      running: ["busy", "idle"],
      inFlight: { busy: 3 },
      evict: ["busy"],
      explains: /busy busy: no idle choice fits/,
    },
    {
      name: "policy cost: the cheapest set, even of two models",
      models: { a: gpu(12), b: gpu(6), c: gpu(6), t: gpu(12) },
      config: { policy: "cost", evictCosts: { a: 10, b: 2, c: 3 } },
      target: "t",
      running: ["a", "b", "c"],
      lastUsed: { a: 0, b: 100, c: 100 },
      evict: ["b", "c"],
      explains: /cheapest/,
    },
    {
      name: "policy cost: unlisted models cost 1",
      models: { a: gpu(12), b: gpu(12), t: gpu(12) },
      config: { policy: "cost", evictCosts: { a: 5 } },
      target: "t",
      running: ["a", "b"],
      lastUsed: { a: 0, b: 100 },
      evict: ["b"],
    },
    {
      name: "every device counts: RAM can be the one that does not fit",
      models: { a: { memory: { gpu0: 2 * GiB, ram: 40 * GiB } }, b: { memory: { gpu0: 2 * GiB, ram: 10 * GiB } }, t: { memory: { gpu0: 2 * GiB, ram: 30 * GiB } } },
      target: "t",
      running: ["a", "b"],
      lastUsed: { a: 100, b: 1 },
      evict: ["a"],
    },
    {
      name: "no memory key: the model runs alone (like no policy at all)",
      models: { a: gpu(1), b: gpu(1), t: {} },
      target: "t",
      running: ["a", "b"],
      evict: ["a", "b"],
      explains: /declares no memory, so it runs alone: stopping a, b/,
    },
    {
      name: "no memory key on a running model: it makes way for anything",
      models: { old: {}, t: gpu(1) },
      target: "t",
      running: ["old"],
      evict: ["old"],
    },
    {
      name: "memory: auto before its first measurement runs alone",
      models: { a: gpu(1), t: { memory: "auto" } },
      target: "t",
      running: ["a"],
      evict: ["a"],
      explains: /not measured yet \(memory: auto\), so it runs alone/,
    },
    {
      name: "a bare size is the first device",
      models: { a: { memory: 20 * GiB }, t: { memory: 5 * GiB } },
      target: "t",
      running: ["a"],
      evict: ["a"],
    },
  ];
  for (const scenario of scenarios) {
    test(scenario.name, () => {
      const planner = memoryPlanner(scenario.models, scenario.config);
      const ctx = context(scenario.lastUsed, scenario.inFlight);
      assert.deepEqual(planner.evictionFor(scenario.target, scenario.running, ctx), scenario.evict);
      if (scenario.explains) assert.match(planner.explain(scenario.target, scenario.running, ctx), scenario.explains);
    });
  }

  test("a running target stops nothing, even over budget", () => {
    const planner = memoryPlanner({ a: gpu(20), b: gpu(20) });
    assert.deepEqual(planner.evictionFor("a", ["a", "b"], context()), []);
  });

  test("memory: auto after a measurement uses the measured figures", () => {
    const planner = memoryPlanner({ a: gpu(10), t: { memory: "auto" } });
    planner.book.record("t", { gpu0: 9 * GiB, ram: GiB });
    assert.deepEqual(planner.evictionFor("t", ["a"], context()), []);
    planner.book.record("t", { gpu0: 15 * GiB, ram: GiB });
    assert.deepEqual(planner.evictionFor("t", ["a"], context()), ["a"], "a larger measurement no longer fits beside a");
    assert.match(planner.explain("t", ["a"], context()), /t needs gpu0 15 GiB, ram 1 GiB/);
  });

  test("a measured auto model running beside others counts its measurement", () => {
    const planner = memoryPlanner({ auto: { memory: "auto" }, t: gpu(10) });
    assert.deepEqual(planner.evictionFor("t", ["auto"], context()), ["auto"], "unmeasured: it ran alone");
    planner.book.record("auto", { gpu0: 4 * GiB });
    assert.deepEqual(planner.evictionFor("t", ["auto"], context()), []);
  });

  test("auto budgets: reported total minus the reserve; unknown totals are not checked", () => {
    const planner = memoryPlanner({ a: gpu(10), t: gpu(10) }, { devices: { gpu0: "auto" }, reserve: 2 * GiB });
    assert.deepEqual(planner.evictionFor("t", ["a"], context()), [], "total not known yet: not checked");
    planner.book.setTotals({ gpu0: 24 * GiB });
    assert.deepEqual(planner.evictionFor("t", ["a"], context()), [], "20 GiB fits in 24 - 2");
    planner.book.setTotals({ gpu0: 21 * GiB });
    assert.deepEqual(planner.evictionFor("t", ["a"], context()), ["a"], "20 GiB does not fit in 21 - 2");
  });

  test("more running models than the exhaustive bound: greedy, still the fewest needed", () => {
    const models: Record<string, ModelMemoryConfig> = { t: gpu(5) };
    const lastUsed: Record<string, number> = {};
    for (let i = 0; i < 16; i++) {
      models[`m${String(i).padStart(2, "0")}`] = { memory: { gpu0: GiB + (i === 3 ? 4 * GiB : 0) } };
      lastUsed[`m${String(i).padStart(2, "0")}`] = 100 - i;
    }
    const planner = memoryPlanner(models, { devices: { gpu0: 22 * GiB } });
    const running = Object.keys(models).filter((m) => m !== "t").sort();
    // 16 + 4 = 20 GiB used; t needs 5 → 3 GiB must go: m15, m14, m13 are the oldest.
    assert.deepEqual(planner.evictionFor("t", running, context(lastUsed)), ["m13", "m14", "m15"]);
  });
});

describe("memory planner: GPUs", () => {
  const devices = { gpu0: 24 * GiB, gpu1: 24 * GiB, gpu2: 12 * GiB, ram: 64 * GiB };

  test("gpus: N picks the N freest GPUs, lower index on a tie", () => {
    const planner = memoryPlanner({ big: gpu(20), t: { memory: 4 * GiB, gpus: 2 } }, { devices });
    assert.deepEqual(planner.chooseGpus("t", []), ["gpu0", "gpu1"]);
    assert.deepEqual(planner.chooseGpus("t", ["big"]), ["gpu1", "gpu2"], "gpu0 holds 20 GiB: gpu1 (24 free) and gpu2 (12 free)");
    assert.equal(planner.chooseGpus("big", []), null, "named devices: nothing to choose");
  });

  test("recorded placements count on their GPUs; a released model frees them", () => {
    const planner = memoryPlanner({ p: { memory: 20 * GiB, gpus: 1 }, t: { memory: 10 * GiB, gpus: 1 } }, { devices: { gpu0: 24 * GiB, gpu1: 24 * GiB } });
    planner.book.place("p", ["gpu1"]);
    assert.deepEqual(planner.chooseGpus("t", ["p"]), ["gpu0"]);
    assert.deepEqual(planner.evictionFor("t", ["p"], context()), []);
    planner.book.place("p", ["gpu0"]);
    assert.deepEqual(planner.chooseGpus("t", ["p"]), ["gpu1"]);
  });

  test("a gpus: N model that fits on no N GPUs beside the others evicts", () => {
    const planner = memoryPlanner({ a: gpu(16), b: { memory: { gpu1: 16 * GiB } }, t: { memory: 10 * GiB, gpus: 2 } }, {
      devices: { gpu0: 24 * GiB, gpu1: 24 * GiB },
    });
    assert.deepEqual(planner.evictionFor("t", ["a", "b"], context({ a: 1, b: 2 })), ["a", "b"]);
    const one = memoryPlanner({ a: gpu(16), t: { memory: 10 * GiB, gpus: 1 } }, { devices: { gpu0: 24 * GiB, gpu1: 24 * GiB } });
    assert.deepEqual(one.evictionFor("t", ["a"], context()), [], "one GPU is enough: gpu1");
    assert.deepEqual(one.chooseGpus("t", ["a"]), ["gpu1"]);
  });

  test("the book is shared across planners built from reloaded configs", () => {
    const first = memoryPlanner({ t: { memory: "auto" } });
    const book = new MemoryBook();
    book.record("t", { gpu0: GiB });
    const rebound = first.withBook(book);
    assert.equal(rebound.book, book);
    assert.equal(rebound.settings, first.settings);
    assert.match(rebound.explain("t", [], context()), /t needs gpu0 1 GiB/);
  });
});

describe("memory planner: config", () => {
  const base = (models: string, memory = "devices: { gpu0: 24GiB, ram: auto }") => `
startPort: 9000
routing:
  router:
    use: memory
    settings:
      memory:
        ${memory}
models:
${models}`;

  test("sizes in bytes, binary and decimal units; the bare size is the first device", () => {
    const { planner, config } = load(base(`
  a: { cmd: "a --port \${PORT}", memory: 18GiB }
  b: { cmd: "b --port \${PORT}", memory: { gpu0: "1.5GB", ram: 512MiB } }
  c: { cmd: "c --port \${PORT}", memory: auto, gpus: 1 }
  d: { cmd: "d --port \${PORT}", memory: 1073741824 }
`));
    assert.ok(planner instanceof MemoryPlanner);
    assert.deepEqual(planner.settings.models.a, { source: "declared", declared: { gpu0: 18 * GiB }, gpus: null });
    assert.deepEqual(planner.settings.models.b.declared, { gpu0: 1.5e9, ram: 512 * 1024 ** 2 });
    assert.deepEqual(planner.settings.models.c, { source: "auto", declared: {}, gpus: 1 });
    assert.deepEqual(planner.settings.models.d.declared, { gpu0: GiB });
    assert.deepEqual(config.routing.memory, { devices: { gpu0: 24 * GiB, ram: "auto" }, reserve: GiB, policy: "lru", evictCosts: {} });
  });

  test("use: memory alone: RAM only, every model without a memory key runs alone", () => {
    const { planner } = load(`
routing: { router: { use: memory } }
startPort: 9000
models:
  a: { cmd: "a --port \${PORT}" }
  b: { cmd: "b --port \${PORT}" }
`);
    assert.ok(planner instanceof MemoryPlanner);
    assert.deepEqual(planner.settings.devices.map((d) => d.name), ["ram"]);
    assert.deepEqual(planner.evictionFor("b", ["a"], context()), ["a"]);
  });

  test("a model that can never fit is an error at its key", () => {
    assertIssue(issuesOf(base(`  big: { cmd: "x --port \${PORT}", memory: { gpu0: 30GiB } }`)), "models.big.memory.gpu0", /needs 30 GiB on gpu0 but its budget is 24 GiB \(routing\.router\.settings\.memory\.devices\.gpu0\)/);
    assertIssue(issuesOf(base(`  big: { cmd: "x --port \${PORT}", memory: 25GiB }`)), "models.big.memory", /needs 25 GiB on gpu0/);
  });

  test("unknown devices and impossible gpus counts name their keys", () => {
    const issues = issuesOf(base(`
  a: { cmd: "a --port \${PORT}", memory: { gpu3: 1GiB } }
  c: { cmd: "c --port \${PORT}", memory: 1GiB, gpus: 2 }
  d: { cmd: "d --port \${PORT}", memory: { gpu0: 1GiB }, gpus: 1 }
  e: { cmd: "e --port \${PORT}", memory: { gpu: 1GiB } }
`, "devices: { gpu0: 24GiB, ram: auto, vram: 8GiB }"));
    assertIssue(issues, "models.a.memory.gpu3", /"gpu3" is not a configured device/);
    assertIssue(issues, "models.c.gpus", /asks for 2 GPUs but only 1 GPU device is configured/);
    assertIssue(issues, "models.d.memory.gpu0", /with gpus: 1 the planner picks the GPUs/);
    assertIssue(issues, "models.e.memory.gpu", /needs gpus: N/);
    assertIssue(issues, "routing.router.settings.memory.devices.vram", /is not a device name/);
  });

  test("values that are not sizes name their keys", () => {
    const issues = issuesOf(base(`
  b: { cmd: "b --port \${PORT}", memory: 12G }
  e: { cmd: "e --port \${PORT}", memory: [1] }
  f: { cmd: "f --port \${PORT}", memory: lots }
`));
    assertIssue(issues, "models.b.memory", /unknown unit "G"/);
    assertIssue(issues, "models.e.memory", /must be auto, a size .* \(got a list\)/);
    assertIssue(issues, "models.f.memory", /must be auto, a size .* \(got "lots"\)/);
  });

  test("size errors say what is wrong", () => {
    assertIssue(issuesOf(base(`  a: { cmd: "a --port \${PORT}", memory: { gpu0: 12G } }`)), "models.a.memory.gpu0", /unknown unit "G"/);
    assertIssue(issuesOf(base(`  a: { cmd: "a --port \${PORT}" }`, "devices: { gpu0: lots }")), "routing.router.settings.memory.devices.gpu0", /must be a size/);
    assertIssue(issuesOf(base(`  a: { cmd: "a --port \${PORT}" }`, "devices: { ram: auto }\n        reserve: -1")), "routing.router.settings.memory.reserve", /not negative/);
  });

  test("policy cost needs costs; costs name configured models", () => {
    const issues = issuesOf(base(`  a: { cmd: "a --port \${PORT}" }`, "devices: { ram: auto }\n        policy: cost"));
    assertIssue(issues, "routing.router.settings.memory.policy", /evict_costs is empty/);
    const unknown = issuesOf(base(`  a: { cmd: "a --port \${PORT}" }`, "devices: { ram: auto }\n        policy: cost\n        evict_costs: { nope: 3 }"));
    assertIssue(unknown, "routing.router.settings.memory.evict_costs.nope", /not a configured model id/);
  });

  test("a memory block that routing does not use is pointed out", () => {
    const issues = issuesOf(`
routing:
  router:
    settings:
      memory: { devices: { ram: auto } }
startPort: 9000
models:
  a: { cmd: "a --port \${PORT}" }
`);
    assertIssue(issues, "routing.router.settings.memory", /routing uses groups; set routing.router.use: memory/);
  });

  test("buildPlanner throws every issue at once", () => {
    assert.throws(
      () => memoryPlanner({ a: { memory: { gpu9: GiB } }, b: { memory: { gpu0: 99 * GiB } } }),
      (error: unknown) => error instanceof PlannerConfigError && error.issues.length === 2,
    );
  });
});

describe("memory planner under the scheduler", () => {
  const models = { a: gpu(12), b: gpu(12), c: gpu(12) };

  test("models that fit load side by side; the third evicts the least recently used", () => {
    const rig = new Rig(memoryPlanner(models));
    const a = rig.request("a");
    const b = rig.request("b");
    assert.deepEqual(rig.world.swaps.map((s) => [s.target, s.evict]), [["a", []], ["b", []]], "a and b load in parallel");
    rig.finishSwap("a");
    rig.finishSwap("b");
    rig.now = 10;
    rig.serveDone(b);
    rig.now = 20;
    rig.serveDone(a);
    rig.now = 30;
    rig.request("c");
    assert.deepEqual(rig.world.swapTo("c").evict, ["b"], "b was used less recently than a");
    assert.match(rig.world.swapTo("c").reason, /stopping b \(idle, least recently used\)/);
  });

  test("a busy victim is waited for, as with every policy", () => {
    const rig = new Rig(memoryPlanner({ a: gpu(20), c: gpu(12) }));
    const a = rig.request("a");
    rig.finishSwap("a");
    rig.request("c");
    assert.equal(rig.world.swaps.length, 1, "c waits: a is serving and must stop");
    rig.now = 5;
    rig.serveDone(a);
    assert.deepEqual(rig.world.swapTo("c").evict, ["a"]);
    rig.finishSwap("c");
    assert.equal(rig.world.granted.length, 2);
  });

  test("collation: queued requests for models that do not fit together are served in batches", () => {
    const rig = new Rig(memoryPlanner({ a: gpu(20), b: gpu(20), c: gpu(20) }));
    const first = rig.request("a");
    rig.finishSwap("a");
    for (const model of ["b", "c", "b", "c"]) rig.request(model);
    rig.serveDone(first);
    rig.finishSwap("b");
    const served = new Set([first]);
    const serveGranted = () => {
      for (const id of rig.world.granted) if (!served.has(id)) (served.add(id), rig.serveDone(id));
    };
    serveGranted();
    rig.finishSwap("c");
    serveGranted();
    assert.deepEqual(rig.world.swaps.map((s) => s.target), ["a", "b", "c"], "b b, then c c: one swap per model");
    assert.equal(rig.world.granted.length, 5);
    assert.deepEqual(rig.counters(), IDLE);
  });

  test("starvation: a model kept busy is drained for a request waiting past the timeout", () => {
    const rig = new Rig(memoryPlanner({ a: gpu(20), b: gpu(20) }), { settings: settings({ starvationTimeoutMs: 30_000 }) });
    let current = rig.request("a");
    rig.finishSwap("a");
    rig.now = 1000;
    const starved = rig.request("b");
    // a keeps getting overlapping requests: each new one is granted at once until the timeout.
    for (let t = 2000; t < 30_000; t += 1000) {
      rig.now = t;
      const next = rig.request("a");
      rig.serveDone(current);
      current = next;
    }
    assert.equal(rig.world.swaps.length, 1, "b still waits before the timeout");
    rig.advanceTo(31_000);
    const held = rig.tryRequest("a");
    assert.ok(held.ok);
    assert.ok(!rig.world.granted.includes(held.id), "after the timeout a takes no new work");
    rig.serveDone(current);
    assert.deepEqual(rig.world.swapTo("b").evict, ["a"]);
    rig.finishSwap("b");
    assert.ok(rig.world.granted.includes(starved));
  });
});
