/**
 * The matrix solver: which running models must stop so that `target` can run
 * inside one of the configured sets at the lowest eviction cost.
 *
 * Sets are never expanded into every concrete model set. Each expression is
 * evaluated to its *projected states*: bitmasks over the relevant models
 * (target ∪ running), keeping only maximal ones. Six groups of ten
 * alternatives therefore cost a handful of mask operations, not 10⁶ sets.
 */
import type { Planner } from "../../effects.ts";
import type { Program, ProgramExpr } from "./program.ts";

/** The solver's decision for one (target, running) pair. */
export interface Solution {
  /** Winning set, or null when no set contains the target (it then runs alone). */
  set: string | null;
  /** Running models to stop, in `running` order. */
  evict: string[];
  /** Sum of the evicted models' costs. */
  cost: number;
}

/** Adds `c` to a list of incomparable masks unless a kept mask covers it; drops masks `c` covers. */
function addToFrontier(list: bigint[], c: bigint): void {
  for (const m of list) if ((c & ~m) === 0n) return;
  let kept = 0;
  for (const m of list) if ((m & ~c) !== 0n) list[kept++] = m;
  list.length = kept;
  list.push(c);
}

class Projection {
  readonly #program: Program;
  readonly #bits: Map<string, bigint>;
  readonly #memo = new Map<number, bigint[]>();

  constructor(program: Program, relevant: readonly string[]) {
    this.#program = program;
    this.#bits = new Map(relevant.map((model, i) => [model, 1n << BigInt(i)]));
  }

  bit(model: string): bigint {
    return this.#bits.get(model) ?? 0n;
  }

  set(index: number): bigint[] {
    let states = this.#memo.get(index);
    if (!states) {
      states = this.#eval(this.#program.sets[index].expr);
      this.#memo.set(index, states);
    }
    return states;
  }

  #eval(expr: ProgramExpr): bigint[] {
    switch (expr.kind) {
      case "model":
        return [this.bit(expr.model)];
      case "ref":
        return this.set(expr.set);
      case "or": {
        const list: bigint[] = [];
        for (const item of expr.items) for (const state of this.#eval(item)) addToFrontier(list, state);
        return list;
      }
      case "and": {
        let acc: bigint[] = [0n];
        for (const item of expr.items) {
          const states = this.#eval(item);
          const next: bigint[] = [];
          for (const a of acc) for (const b of states) addToFrontier(next, a | b);
          acc = next;
        }
        return acc;
      }
    }
  }
}

/**
 * The maximal model sets of `setName` as seen from `relevant` models, in
 * enumeration order (with every model relevant this is the set's family of
 * concrete model sets). Used by the solver and to inspect a matrix.
 */
export function projectedStates(program: Program, setName: string, relevant: readonly string[]): string[][] {
  const index = program.sets.findIndex((set) => set.name === setName);
  if (index < 0) throw new Error(`no set named "${setName}" in the matrix`);
  const projection = new Projection(program, relevant);
  return projection.set(index).map((mask) => relevant.filter((model) => (mask & projection.bit(model)) !== 0n));
}

/**
 * Chooses the cheapest set state containing `target`: cost = sum of the costs
 * of running models outside the state; ties go to the earlier set in
 * tie-break order, then the earlier state. `running` is sorted.
 */
export function solveMatrix(program: Program, target: string, running: readonly string[]): Solution {
  const relevant = running.includes(target) ? [...running] : [target, ...running];
  const projection = new Projection(program, relevant);
  const targetBit = projection.bit(target);
  let best: { set: string; state: bigint; cost: number } | null = null;
  for (let i = 0; i < program.sets.length; i++) {
    const set = program.sets[i];
    if (!set.models.has(target)) continue;
    for (const state of projection.set(i)) {
      if ((state & targetBit) === 0n) continue;
      let cost = 0;
      for (const model of running) {
        if ((state & projection.bit(model)) === 0n) cost += program.costs.get(model) ?? 1;
      }
      if (best === null || cost < best.cost) best = { set: set.name, state, cost };
    }
  }
  if (running.includes(target)) return { set: best?.set ?? null, evict: [], cost: 0 };
  if (best === null) {
    const evict = [...running];
    return { set: null, evict, cost: evict.reduce((sum, model) => sum + (program.costs.get(model) ?? 1), 0) };
  }
  const state = best.state;
  return { set: best.set, evict: running.filter((model) => (state & projection.bit(model)) === 0n), cost: best.cost };
}

/**
 * Eviction policy from a matrix of allowed model sets. Remembers the last
 * solve, so `explain` right after `evictionFor` (as the scheduler does when it
 * starts a swap) costs nothing.
 */
export class MatrixPlanner implements Planner {
  readonly #program: Program;
  #lastKey = "";
  #last: Solution | null = null;

  constructor(program: Program) {
    this.#program = program;
  }

  /** Running models to stop before `target` may run. */
  evictionFor(target: string, running: string[]): string[] {
    return [...this.#solve(target, running).evict];
  }

  /** e.g. `set=standard evict=[voxtral] cost=50`, or `no set contains X: running alone`. */
  explain(target: string, running: string[]): string {
    const solution = this.#solve(target, running);
    if (solution.set === null) {
      return running.includes(target) ? `no set contains ${target}: already running` : `no set contains ${target}: running alone`;
    }
    return `set=${solution.set} evict=[${solution.evict.join(", ")}] cost=${solution.cost}`;
  }

  #solve(target: string, running: string[]): Solution {
    const key = `${target}\0${running.join("\0")}`;
    if (this.#last === null || key !== this.#lastKey) {
      this.#last = solveMatrix(this.#program, target, running);
      this.#lastKey = key;
    }
    return this.#last;
  }
}
