/**
 * The memory planner: whatever fits runs together. A target that fits
 * beside everything running (on every device's budget) stops nothing;
 * otherwise the planner stops the running models that make it fit, chosen
 * in this order of preference:
 *
 * 1. as few busy models (requests in flight) as possible, so a serving model
 *    is only chosen when no idle choice exists (the scheduler then waits for
 *    its requests, as with every policy);
 * 2. policy `lru`: the fewest models, then the least recently used ones;
 *    policy `cost`: the lowest total `evict_costs`, then the fewest, then LRU;
 * 3. "least recently used" compares the most recently used victim of each
 *    set first, then the next (ties in last use go by model name), so equal
 *    choices are decided the same way every time.
 *
 * The search is exhaustive over subsets of the running models up to
 * {@link EXHAUSTIVE_LIMIT} of them (4,096 subsets at most, scored on bit
 * masks; a full layout only for the few that may fit); beyond that it is
 * greedy in the same order, then keeps back every victim that turns out not
 * to be needed. Pure: it reads only its settings, the book and the context.
 */
import type { PlanContext, Planner } from "../../effects.ts";
import { MemoryBook } from "./book.ts";
import { budgetOf, demandOf, layout, type Layout } from "./layout.ts";
import type { MemorySettings } from "./settings.ts";
import { formatBytes } from "./units.ts";

/** Running models searched exhaustively; more use the greedy search. */
export const EXHAUSTIVE_LIMIT = 12;

/** A decision and what it rests on, for the swap log. */
interface Decision {
  evict: string[];
  /** The layout once the evicted models are gone and the target runs. */
  after: Layout;
  /** Why these victims (or none). */
  why: string;
}

/** How good an eviction set is; lower wins, compared field by field. */
interface Score {
  busy: number;
  cost: number;
  count: number;
  /** Sum of 2^(rank by last use, oldest 0): comparing sums compares the most recently used victims first. */
  recency: number;
}

const NO_CONTEXT: PlanContext = { lastUsed: () => 0, inFlight: () => 0 };

/** Eviction by memory budgets. Construct through `buildPlanner`, which validates the settings. */
export class MemoryPlanner implements Planner {
  readonly settings: MemorySettings;
  readonly book: MemoryBook;

  constructor(settings: MemorySettings, book = new MemoryBook()) {
    this.settings = settings;
    this.book = book;
  }

  /** The same policy reading another book (the router keeps one book across config reloads). */
  withBook(book: MemoryBook): MemoryPlanner {
    return new MemoryPlanner(this.settings, book);
  }

  /** Running models to stop before `target` may run. */
  evictionFor(target: string, running: string[], context: PlanContext = NO_CONTEXT): string[] {
    if (running.includes(target)) return [];
    return this.#decide(target, running, context).evict;
  }

  /** One line: what the target needs, what it stops and why, and the devices after the swap. */
  explain(target: string, running: string[], context: PlanContext = NO_CONTEXT): string {
    if (running.includes(target)) return "memory: already running";
    const decision = this.#decide(target, running, context);
    return `memory: ${target} needs ${this.#describeNeed(target)}; ${decision.why}; ${this.#describeDevices(decision.after)}`;
  }

  /**
   * The GPUs to start `model` on, given what else runs: its recorded GPUs,
   * else the freest. Null when the model names its devices (no `gpus`).
   */
  chooseGpus(model: string, running: readonly string[]): string[] | null {
    if ((this.settings.models[model]?.gpus ?? null) === null) return null;
    const others = running.filter((other) => other !== model);
    return layout(this.settings, this.book, [...others, model]).placements.get(model) ?? null;
  }

  /** Planned bytes and budget per configured device with these models running (for status views). */
  devicesWith(running: readonly string[]): Array<{ name: string; budget: number | null; planned: number }> {
    const current = layout(this.settings, this.book, running);
    return this.settings.devices.map((device) => ({
      name: device.name,
      budget: budgetOf(this.settings, this.book, device),
      planned: current.used.get(device.name) ?? 0,
    }));
  }

  /**
   * What `model` takes by the planner's count, per device (for `gpus: N`
   * models on the GPUs given in `running`'s layout, else per GPU as `gpu`),
   * or null while it runs alone.
   */
  needOf(model: string, running: readonly string[]): Record<string, number> | null {
    const demand = demandOf(this.settings, this.book, model);
    if (demand.alone !== null) return null;
    const need = { ...demand.fixed };
    if (demand.gpus === 0) return need;
    const gpus = running.includes(model) ? layout(this.settings, this.book, running).placements.get(model) : undefined;
    for (const device of gpus ?? ["gpu"]) need[device] = (need[device] ?? 0) + demand.perGpu;
    return need;
  }

  #decide(target: string, running: string[], context: PlanContext): Decision {
    const others = running.filter((model) => model !== target);
    const beside = layout(this.settings, this.book, [...others, target]);
    if (beside.fits) {
      return { evict: [], after: beside, why: others.length ? `fits beside ${others.join(", ")}` : "nothing else runs" };
    }
    const alone = layout(this.settings, this.book, [target]);
    const demand = demandOf(this.settings, this.book, target);
    if (demand.alone !== null || !alone.fits) {
      const why = demand.alone === "undeclared"
        ? "it declares no memory, so it runs alone"
        : demand.alone === "unmeasured"
        ? "it is not measured yet (memory: auto), so it runs alone this time"
        : `it does not fit ${alone.over.join(", ")} even alone, so it runs alone`;
      return { evict: others, after: alone, why: others.length ? `${why}: stopping ${others.join(", ")}` : why };
    }
    const evict = others.length <= EXHAUSTIVE_LIMIT ? this.#exhaustive(target, others, context) : this.#greedy(target, others, context);
    const kept = others.filter((model) => !evict.includes(model));
    const busy = evict.filter((model) => context.inFlight(model) > 0);
    const order = this.settings.policy === "cost" ? "cheapest" : "least recently used";
    const why = `stopping ${evict.join(", ")} (${busy.length ? `${busy.join(", ")} busy: no idle choice fits` : "idle"}, ${order})`;
    return { evict, after: layout(this.settings, this.book, [...kept, target]), why };
  }

  /**
   * The best eviction set among every subset of `others` that makes the
   * target fit. Each subset's score and freed bytes are built from a
   * smaller subset's (one model less) in typed arrays, so most subsets are
   * dismissed in a few operations; the full layout is computed only for a
   * subset that would be the best so far and may fit.
   */
  #exhaustive(target: string, others: string[], context: PlanContext): string[] {
    const n = others.length;
    const size = 1 << n;
    const ranked = rankByLastUse(others, context);
    const busyOf = others.map((model) => (context.inFlight(model) > 0 ? 1 : 0));
    const costOf = others.map((model) => this.#cost(model));
    const weightOf = others.map((model) => 2 ** ranked.indexOf(model));
    const room = this.#room(target, others);
    const busy = new Uint8Array(size);
    const count = new Uint8Array(size);
    const cost = new Float64Array(size);
    const recency = new Float64Array(size);
    const freed = (room?.excess ?? []).map(() => new Float64Array(size));
    let best: { mask: number; score: Score } | null = null;
    for (let mask = 1; mask < size; mask++) {
      const low = mask & -mask;
      const i = 31 - Math.clz32(low);
      const rest = mask ^ low;
      busy[mask] = busy[rest] + busyOf[i];
      count[mask] = count[rest] + 1;
      cost[mask] = cost[rest] + costOf[i];
      recency[mask] = recency[rest] + weightOf[i];
      let roomy = room === null || (mask & room.alone) === room.alone;
      for (let d = 0; d < freed.length; d++) {
        freed[d][mask] = freed[d][rest] + room!.freed[i][d];
        if (freed[d][mask] < room!.excess[d]) roomy = false;
      }
      if (!roomy) continue;
      const score: Score = { busy: busy[mask], cost: cost[mask], count: count[mask], recency: recency[mask] };
      if (best !== null && compare(score, best.score) >= 0) continue;
      const kept = others.filter((_, k) => (mask & (1 << k)) === 0);
      if (layout(this.settings, this.book, [...kept, target]).fits) best = { mask, score };
    }
    return best === null ? others : others.filter((_, k) => (best.mask & (1 << k)) !== 0);
  }

  /** Stop models in order of preference until the target fits, then keep back every one not needed. */
  #greedy(target: string, others: string[], context: PlanContext): string[] {
    const byPreference = rankByLastUse(others, context);
    const key = (model: string) => ({
      busy: context.inFlight(model) > 0 ? 1 : 0,
      cost: this.#cost(model),
      count: 1,
      recency: byPreference.indexOf(model),
    });
    const order = [...others].sort((a, b) => compare(key(a), key(b)));
    const victims: string[] = [];
    const fitsWithout = (gone: string[]) => layout(this.settings, this.book, [...others.filter((m) => !gone.includes(m)), target]).fits;
    for (const model of order) {
      victims.push(model);
      if (fitsWithout(victims)) break;
    }
    for (const model of [...victims].reverse()) {
      const fewer = victims.filter((victim) => victim !== model);
      if (fitsWithout(fewer)) victims.splice(victims.indexOf(model), 1);
    }
    return others.filter((model) => victims.includes(model));
  }

  /** What stopping a model costs under the policy (lru: nothing; the count decides). */
  #cost(model: string): number {
    return this.settings.policy === "cost" ? this.settings.costs[model] ?? 1 : 0;
  }

  /**
   * What any set of victims must do for the target to fit: stop every
   * model that must run alone (`alone`, a bit mask over `others`), and free
   * at least `excess[d]` on each device over budget (`freed[i][d]`: what
   * `others[i]` frees there). Exact unless some GPUs are still to be picked
   * (a pick may move once others stop); then null, and every subset is
   * laid out in full.
   */
  #room(target: string, others: string[]): { alone: number; excess: number[]; freed: number[][] } | null {
    const all = [...others, target];
    const demands = all.map((model) => demandOf(this.settings, this.book, model));
    if (all.some((model, i) => demands[i].gpus > 0 && this.book.placement(model) === null)) return null;
    const beside = layout(this.settings, this.book, all);
    const over = this.settings.devices.map((device) => {
      const budget = budgetOf(this.settings, this.book, device);
      return { name: device.name, excess: budget === null ? 0 : beside.used.get(device.name)! - budget };
    }).filter((device) => device.excess > 0);
    let alone = 0;
    others.forEach((_, i) => {
      if (demands[i].alone !== null) alone |= 1 << i;
    });
    return {
      alone,
      excess: over.map((device) => device.excess),
      freed: others.map((model, i) =>
        over.map(({ name }) => (demands[i].fixed[name] ?? 0) + ((this.book.placement(model) ?? []).includes(name) ? demands[i].perGpu : 0))
      ),
    };
  }

  #describeNeed(model: string): string {
    const demand = demandOf(this.settings, this.book, model);
    if (demand.alone === "undeclared") return "a whole machine (no memory key)";
    if (demand.alone === "unmeasured") return "an unknown amount (memory: auto)";
    const parts = Object.entries(demand.fixed).map(([device, bytes]) => `${device} ${formatBytes(bytes)}`);
    if (demand.gpus > 0) parts.unshift(`${formatBytes(demand.perGpu)} on each of ${demand.gpus} GPU${demand.gpus === 1 ? "" : "s"}`);
    return parts.join(", ") || "nothing";
  }

  #describeDevices(after: Layout): string {
    return this.settings.devices.map((device) => {
      const budget = budgetOf(this.settings, this.book, device);
      const used = formatBytes(after.used.get(device.name) ?? 0);
      return `${device.name} ${used}/${budget === null ? "? (total unknown)" : formatBytes(budget)}`;
    }).join(", ");
  }
}

/** `models` from the least recently used to the most recently used; ties in last use by name. */
function rankByLastUse(models: string[], context: PlanContext): string[] {
  return [...models].sort((a, b) => context.lastUsed(a) - context.lastUsed(b) || (a < b ? -1 : a > b ? 1 : 0));
}

/** Lexicographic comparison of two scores (negative: `a` is better). */
function compare(a: Score, b: Score): number {
  return a.busy - b.busy || a.cost - b.cost || a.count - b.count || a.recency - b.recency;
}
