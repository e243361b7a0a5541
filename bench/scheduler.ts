/**
 * Scheduler benchmark: a trace-driven simulation on a fake clock (no
 * processes). The same request traces are replayed through three policies:
 *
 * - no collation: strict arrival order; a request for another model waits for
 *   everything before it, then swaps (llama-swap before PR #790, roughly);
 * - collation: the Scheduler with starvation timeout 0 (llama-swap today);
 * - collation + starvation: the Scheduler with the default 30 s timeout.
 *
 * Models are mutually exclusive, a swap costs SWAP_MS, each model serves up
 * to SLOTS requests at once, requests take 0.5–3 s. Wait = arrival to start
 * of service. Then a day-like trace over 8 models of mixed sizes on one
 * 24 GiB GPU compares every model exclusive, a hand-written groups config
 * and the memory planner (swaps, waits, and "fit misses": swaps that stopped
 * a model that would have fitted beside the target). Then times the matrix
 * solver on the 70-model case and the memory planner's search.
 *
 * Run: npx bun bench/scheduler.ts   or   npx deno run -A bench/scheduler.ts
 */
import type { Effects, Planner, RequestId, SwapPlan } from "../src/scheduler/effects.ts";
import type { ModelState } from "../src/upstream/state.ts";
import { buildPlanner } from "../src/scheduler/planners/build.ts";
import { ExclusivePlanner } from "../src/scheduler/planners/exclusive.ts";
import type { GroupSpec } from "../src/scheduler/planners/groups.ts";
import { compileMatrix } from "../src/scheduler/planners/matrix/program.ts";
import { solveMatrix } from "../src/scheduler/planners/matrix/solve.ts";
import { Scheduler } from "../src/scheduler/scheduler.ts";

const SWAP_MS = 2000;
const SLOTS = 4;
const STARVATION_MS = 30_000;

interface TraceRequest {
  at: number;
  model: string;
  serviceMs: number;
}

interface Outcome {
  swaps: number;
  /** Wait of every request, and per model. */
  waits: number[];
  waitsOf: Map<string, number[]>;
  lastEnd: number;
}

function newOutcome(): Outcome {
  return { swaps: 0, waits: [], waitsOf: new Map(), lastEnd: 0 };
}

function recordWait(outcome: Outcome, request: TraceRequest, now: number): void {
  outcome.waits.push(now - request.at);
  const ofModel = outcome.waitsOf.get(request.model) ?? [];
  ofModel.push(now - request.at);
  outcome.waitsOf.set(request.model, ofModel);
}

/** Deterministic PRNG (mulberry32) so every run replays the same traces. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function serviceTime(rand: () => number): number {
  return Math.round(500 + rand() * 2500);
}

/** Poisson arrivals, uniformly random model. */
function randomTrace(models: number, count: number, meanGapMs: number, seed: number): TraceRequest[] {
  const rand = random(seed);
  const trace: TraceRequest[] = [];
  let at = 0;
  for (let i = 0; i < count; i++) {
    at += Math.round(-Math.log(1 - rand()) * meanGapMs);
    trace.push({ at, model: `m${Math.floor(rand() * models)}`, serviceMs: serviceTime(rand) });
  }
  return trace;
}

/** m0 m1 m2 m0 m1 m2 … at a fixed gap: the worst case for strict arrival order. */
function alternatingTrace(models: number, count: number, gapMs: number, seed: number): TraceRequest[] {
  const rand = random(seed);
  return Array.from({ length: count }, (_, i) => ({
    at: i * gapMs,
    model: `m${i % models}`,
    serviceMs: serviceTime(rand),
  }));
}

/** m0 receives overlapping requests without pause; m1 gets one request a minute. */
function hammeredTrace(durationMs: number, gapMs: number, otherEveryMs: number, seed: number): TraceRequest[] {
  const rand = random(seed);
  const trace: TraceRequest[] = [];
  for (let at = 0; at < durationMs; at += gapMs) trace.push({ at, model: "m0", serviceMs: serviceTime(rand) });
  for (let at = otherEveryMs / 2; at < durationMs; at += otherEveryMs) {
    trace.push({ at, model: "m1", serviceMs: serviceTime(rand) });
  }
  return trace.sort((a, b) => a.at - b.at);
}

/** A min-heap of timed callbacks; equal times run in insertion order. */
class EventLoop {
  now = 0;
  readonly #heap: Array<{ at: number; seq: number; run: () => void }> = [];
  #seq = 0;

  at(at: number, run: () => void): void {
    const heap = this.#heap;
    heap.push({ at, seq: this.#seq++, run });
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.#less(heap[parent], heap[i])) break;
      [heap[parent], heap[i]] = [heap[i], heap[parent]];
      i = parent;
    }
  }

  run(): void {
    const heap = this.#heap;
    while (heap.length > 0) {
      const top = heap[0];
      const last = heap.pop()!;
      if (heap.length > 0) {
        heap[0] = last;
        let i = 0;
        for (;;) {
          const l = 2 * i + 1;
          const r = l + 1;
          let m = i;
          if (l < heap.length && this.#less(heap[l], heap[m])) m = l;
          if (r < heap.length && this.#less(heap[r], heap[m])) m = r;
          if (m === i) break;
          [heap[m], heap[i]] = [heap[i], heap[m]];
          i = m;
        }
      }
      this.now = top.at;
      top.run();
    }
  }

  #less(a: { at: number; seq: number }, b: { at: number; seq: number }): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }
}

/** A model server with SLOTS parallel slots and a FIFO for granted requests waiting for one. */
class ModelServer {
  readonly #loop: EventLoop;
  #busy = 0;
  readonly #waiting: Array<{ serviceMs: number; onStart: () => void; onEnd: () => void }> = [];

  constructor(loop: EventLoop) {
    this.#loop = loop;
  }

  submit(serviceMs: number, onStart: () => void, onEnd: () => void): void {
    this.#waiting.push({ serviceMs, onStart, onEnd });
    this.#pump();
  }

  #pump(): void {
    while (this.#busy < SLOTS && this.#waiting.length > 0) {
      const job = this.#waiting.shift()!;
      this.#busy++;
      job.onStart();
      this.#loop.at(this.#loop.now + job.serviceMs, () => {
        this.#busy--;
        job.onEnd();
        this.#pump();
      });
    }
  }
}

/** Strict arrival order: the head request runs when its model is loaded, else everything drains and it swaps. */
function simulateNoCollation(trace: TraceRequest[]): Outcome {
  const loop = new EventLoop();
  const servers = new Map<string, ModelServer>();
  const server = (model: string) => servers.get(model) ?? servers.set(model, new ModelServer(loop)).get(model)!;
  const outcome = newOutcome();
  const queue: TraceRequest[] = [];
  let loaded: string | null = null;
  let inFlight = 0;
  let swapping = false;

  const dispatch = (): void => {
    while (!swapping && queue.length > 0) {
      const head = queue[0];
      if (head.model === loaded) {
        queue.shift();
        inFlight++;
        server(head.model).submit(
          head.serviceMs,
          () => recordWait(outcome, head, loop.now),
          () => {
            inFlight--;
            outcome.lastEnd = loop.now;
            dispatch();
          },
        );
      } else if (inFlight === 0) {
        swapping = true;
        outcome.swaps++;
        loop.at(loop.now + SWAP_MS, () => {
          swapping = false;
          loaded = head.model;
          dispatch();
        });
      } else {
        return;
      }
    }
  };
  for (const request of trace) {
    loop.at(request.at, () => {
      queue.push(request);
      dispatch();
    });
  }
  loop.run();
  return outcome;
}

/** How a simulation run differs from the default (exclusive models, SWAP_MS per swap). */
interface SimulationOptions {
  planner?: Planner;
  /** Load time of a model (ms). */
  swapMs?: (model: string) => number;
  /** Sees every swap as it starts, with the models running just before it. */
  onSwap?: (plan: SwapPlan, running: string[]) => void;
}

/** The real Scheduler, driven by the event loop. */
function simulateScheduler(trace: TraceRequest[], starvationTimeoutMs: number, options: SimulationOptions = {}): Outcome {
  const loop = new EventLoop();
  const outcome = newOutcome();
  const states = new Map<string, ModelState>();
  const servers = new Map<string, ModelServer>();
  const server = (model: string) => servers.get(model) ?? servers.set(model, new ModelServer(loop)).get(model)!;
  const requests = new Map<RequestId, TraceRequest>();
  let timerGeneration = 0;

  const effects: Effects = {
    isReady: (model) => states.get(model) === "ready",
    runningModels: () => [...states].filter(([, state]) => state !== "stopped").map(([model]) => model).sort(),
    startSwap: (plan: SwapPlan) => {
      outcome.swaps++;
      options.onSwap?.(plan, effects.runningModels());
      for (const model of plan.evict) states.set(model, "stopped");
      states.set(plan.target, "starting");
      loop.at(loop.now + (options.swapMs?.(plan.target) ?? SWAP_MS), () => {
        states.set(plan.target, "ready");
        scheduler.swapDone(plan.id, null, loop.now);
      });
    },
    grant: (id, model) => {
      const request = requests.get(id)!;
      server(model).submit(
        request.serviceMs,
        () => recordWait(outcome, request, loop.now),
        () => {
          outcome.lastEnd = loop.now;
          scheduler.serveDone(id, loop.now);
        },
      );
      return true;
    },
    fail: (id, error) => {
      throw new Error(`request ${id} failed in the simulation: ${error.message}`);
    },
    stopModels: (models) => {
      for (const model of models) states.set(model, "stopped");
    },
    setTimer: (at) => {
      const generation = ++timerGeneration;
      if (at !== null) {
        loop.at(Math.max(at, loop.now), () => {
          if (generation === timerGeneration) scheduler.tick(loop.now);
        });
      }
    },
  };
  const scheduler = new Scheduler(options.planner ?? new ExclusivePlanner(), effects, {
    isKnown: () => true,
    limitFor: () => 1_000_000,
    priorityFor: () => 0,
    ttlFor: () => 0,
    starvationTimeoutMs,
    maxQueue: 1_000_000,
  });
  trace.forEach((request, i) => {
    loop.at(request.at, () => {
      requests.set(i, request);
      const admission = scheduler.request(i, request.model, loop.now);
      if (!admission.ok) throw admission.error;
    });
  });
  loop.run();
  return outcome;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const seconds = (ms: number): string => (ms / 1000).toFixed(1);

function row(cells: Array<string | number>, widths: number[]): string {
  return cells.map((cell, i) => (i < 2 ? String(cell).padEnd(widths[i]) : String(cell).padStart(widths[i]))).join("  ");
}

function benchPolicies(): void {
  const workloads: Array<[string, TraceRequest[]]> = [
    ["random 3 models 0.3/s", randomTrace(3, 200, 3000, 1)],
    ["random 5 models 1/s", randomTrace(5, 600, 1000, 2)],
    ["alternating m0 m1 m2 2/s", alternatingTrace(3, 300, 500, 3)],
    ["m0 hammered + m1/min", hammeredTrace(600_000, 500, 60_000, 4)],
  ];
  const notes: string[] = [];
  const policies: Array<[string, (trace: TraceRequest[]) => Outcome]> = [
    ["no collation", simulateNoCollation],
    ["collation", (trace) => simulateScheduler(trace, 0)],
    [`collation+starvation ${STARVATION_MS / 1000}s`, (trace) => simulateScheduler(trace, STARVATION_MS)],
  ];
  const widths = [24, 27, 6, 6, 9, 9, 9];
  console.log(
    `scheduler policies: exclusive models, swap ${SWAP_MS / 1000} s, ${SLOTS} slots per model, ` +
      `requests 0.5-3 s; waits in seconds (arrival to start of service)\n`,
  );
  console.log(row(["workload", "policy", "swaps", "req/s", "p50 wait", "p99 wait", "max wait"], widths));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const [name, trace] of workloads) {
    for (const [policy, simulate] of policies) {
      const outcome = simulate(trace);
      if (outcome.waits.length !== trace.length) throw new Error(`${policy} lost requests on ${name}`);
      const waits = [...outcome.waits].sort((a, b) => a - b);
      const throughput = trace.length / ((outcome.lastEnd - trace[0].at) / 1000);
      console.log(row([
        name,
        policy,
        outcome.swaps,
        throughput.toFixed(2),
        seconds(percentile(waits, 50)),
        seconds(percentile(waits, 99)),
        seconds(waits[waits.length - 1]),
      ], widths));
      if (name.includes("hammered")) {
        notes.push(`  ${policy.padEnd(widths[1])} longest m1 wait ${seconds(Math.max(...outcome.waitsOf.get("m1")!))} s`);
      }
    }
  }
  console.log(
    `\nthe occasional model in "m0 hammered + m1/min" ` +
      `(bound with starvation: 30 s + draining m0's in-flight requests + ${SWAP_MS / 1000} s swap):`,
  );
  for (const note of notes) console.log(note);
}

const GiB = 1024 ** 3;
/** The day's models and what each takes on the GPU, in GiB. */
const DAY_MODELS: Record<string, number> = {
  "chat-large": 14,
  coder: 10,
  vision: 7,
  "chat-small": 5,
  tts: 3,
  whisper: 2,
  rerank: 1.5,
  embed: 1,
};
const DAY_GPU_GIB = 24;
/** Requests per minute per model, two hours per phase (08:00-18:00). */
const DAY_PHASES: Array<Record<string, number>> = [
  { coder: 6, embed: 4, rerank: 2, "chat-small": 1 }, // morning: coding with retrieval
  { coder: 3, "chat-large": 2, embed: 2, vision: 0.5, whisper: 0.5 },
  { "chat-large": 3, vision: 1, whisper: 1, tts: 0.5, embed: 1 }, // midday: documents and meetings
  { coder: 5, embed: 3, rerank: 1.5, "chat-large": 0.5 },
  { "chat-small": 3, tts: 1, whisper: 1, embed: 1, "chat-large": 0.5 }, // evening: assistants and voice
];
/** A load takes 1 s plus 0.4 s per GiB. */
const daySwapMs = (model: string): number => 1000 + DAY_MODELS[model] * 400;

/** Poisson arrivals per model at each phase's rates. */
function dayTrace(seed: number): TraceRequest[] {
  const rand = random(seed);
  const trace: TraceRequest[] = [];
  DAY_PHASES.forEach((rates, phase) => {
    const start = phase * 2 * 3_600_000;
    for (const [model, perMinute] of Object.entries(rates)) {
      for (let at = start; ;) {
        at += Math.round(-Math.log(1 - rand()) * (60_000 / perMinute));
        if (at >= start + 2 * 3_600_000) break;
        trace.push({ at, model, serviceMs: serviceTime(rand) });
      }
    }
  });
  return trace.sort((a, b) => a.at - b.at);
}

/** What a hand-written groups config for these models looks like: every combination it allows fits in 24 GiB. */
const DAY_GROUPS: Record<string, GroupSpec> = {
  big: { swap: true, exclusive: false, persistent: false, members: ["chat-large", "coder"] },
  media: { swap: true, exclusive: false, persistent: false, members: ["vision", "chat-small", "tts", "whisper"] },
  helpers: { swap: false, exclusive: false, persistent: true, members: ["embed", "rerank"] },
};

function dayPlanner(kind: "exclusive" | "groups" | "memory"): Planner {
  const models = Object.keys(DAY_MODELS);
  if (kind === "exclusive") return new ExclusivePlanner();
  if (kind === "groups") return buildPlanner({ use: "group", groups: DAY_GROUPS, matrix: null }, models, "");
  const needs = Object.fromEntries(models.map((model) => [model, { memory: { gpu0: DAY_MODELS[model] * GiB } }]));
  const memory = { devices: { gpu0: DAY_GPU_GIB * GiB }, reserve: 0, policy: "lru" as const, evictCosts: {} };
  return buildPlanner({ use: "memory", groups: {}, matrix: null, memory }, models, "", needs);
}

function benchMemoryDay(): void {
  const trace = dayTrace(5);
  const gib = (models: string[]) => models.reduce((sum, model) => sum + DAY_MODELS[model], 0);
  const widths = [10, 6, 10, 9, 9, 9, 9];
  console.log(
    `\nday-like trace: ${trace.length} requests over 10 h, 8 models of ${Object.values(DAY_MODELS).join("/")} GiB on one ` +
      `${DAY_GPU_GIB} GiB GPU, loads 1 s + 0.4 s/GiB, collation + starvation 30 s; waits in seconds\n`,
  );
  console.log(row(["policy", "swaps", "fit misses", "p50 wait", "p99 wait", "max wait", "peak GiB"], widths));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const kind of ["exclusive", "groups", "memory"] as const) {
    let misses = 0;
    let peak = 0;
    const outcome = simulateScheduler(trace, STARVATION_MS, {
      planner: dayPlanner(kind),
      swapMs: daySwapMs,
      onSwap: (plan, running) => {
        const kept = running.filter((model) => !plan.evict.includes(model) && model !== plan.target);
        const fitted = plan.evict.some((model) => gib([...kept, model]) + DAY_MODELS[plan.target] <= DAY_GPU_GIB);
        if (fitted) misses++;
        peak = Math.max(peak, gib(kept) + DAY_MODELS[plan.target]);
      },
    });
    if (outcome.waits.length !== trace.length) throw new Error(`${kind} lost requests on the day trace`);
    const waits = [...outcome.waits].sort((a, b) => a - b);
    console.log(row([
      kind,
      outcome.swaps,
      misses,
      seconds(percentile(waits, 50)),
      seconds(percentile(waits, 99)),
      seconds(waits[waits.length - 1]),
      peak.toFixed(1),
    ], widths));
  }
}

/** Time one memory planner decision: the exhaustive search over 4 and over 12 running models. */
function benchMemorySearch(): void {
  console.log("\nmemory planner, one decision (target does not fit; exhaustive search over the running models):");
  for (const count of [4, 8, 12]) {
    const running = Array.from({ length: count }, (_, i) => `m${String(i).padStart(2, "0")}`);
    const models = [...running, "target"];
    const needs = Object.fromEntries(models.map((model) => [model, { memory: { gpu0: (model === "target" ? 6 : 22 / count) * GiB } }]));
    const memory = { devices: { gpu0: 24 * GiB }, reserve: 0, policy: "lru" as const, evictCosts: {} };
    const planner = buildPlanner({ use: "memory", groups: {}, matrix: null, memory }, models, "", needs);
    const context = { lastUsed: (model: string) => running.indexOf(model), inFlight: () => 0 };
    for (let i = 0; i < 50; i++) planner.evictionFor("target", running, context);
    const rounds = count >= 12 ? 200 : 2000;
    const started = performance.now();
    let evicted = 0;
    for (let i = 0; i < rounds; i++) evicted = planner.evictionFor("target", running, context).length;
    const micros = ((performance.now() - started) / rounds) * 1000;
    console.log(`  ${String(count).padStart(2)} running ${micros.toFixed(1).padStart(9)} µs per decision (evicts ${evicted})`);
  }
}

function benchMatrix(): void {
  const models = ["target", "outside", ...Array.from({ length: 8 }, (_, i) => `extra-${i}`)];
  const groups: string[] = [];
  for (let d = 0; d < 6; d++) {
    const alternatives = Array.from({ length: 10 }, (_, i) => `model-${d}-${i}`);
    models.push(...alternatives);
    groups.push(`(${alternatives.join(" | ")})`);
  }
  const compiled = compileMatrix(
    { vars: {}, evictCosts: {}, sets: [["large", `target & ${groups.join(" & ")}`], ["extras", models.slice(2, 10).join(" & ")]] },
    models,
    "matrix",
  );
  if (compiled.program === null) throw new Error(JSON.stringify(compiled.issues));
  const program = compiled.program;
  const cases: Array<[string, string[]]> = [
    ["one per group + outside running", [...Array.from({ length: 6 }, (_, d) => `model-${d}-9`), "outside"].sort()],
    [
      "two per group + outside (mid-swap)",
      [...Array.from({ length: 6 }, (_, d) => [`model-${d}-8`, `model-${d}-9`]).flat(), "outside"].sort(),
    ],
  ];
  console.log(`\nmatrix solve, ${models.length} models (6 groups of 10 alternatives + outsiders):`);
  for (const [name, running] of cases) {
    for (let i = 0; i < 200; i++) solveMatrix(program, "target", running);
    const rounds = 2000;
    const started = performance.now();
    let evicted = 0;
    for (let i = 0; i < rounds; i++) evicted = solveMatrix(program, "target", running).evict.length;
    const micros = ((performance.now() - started) / rounds) * 1000;
    console.log(`  ${name.padEnd(34)} ${micros.toFixed(1).padStart(7)} µs per solve (evicts ${evicted})`);
  }
}

console.log(`runtime: ${navigator.userAgent}\n`);
benchPolicies();
benchMemoryDay();
benchMatrix();
benchMemorySearch();
