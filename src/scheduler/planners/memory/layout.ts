/**
 * Memory accounting: what each model takes on which device, and whether a
 * set of models fits every device's budget together. GPUs of `gpus: N`
 * models come from the book when the model was started, otherwise they are
 * picked the way a start would pick them: the N GPUs with the most free
 * budget, the lower index first on a tie.
 */
import type { MemoryBook } from "./book.ts";
import type { Device, MemorySettings } from "./settings.ts";

/** Why a model must run alone, if it must. */
export type AloneReason = "undeclared" | "unmeasured";

/** What one model takes, resolved from its config and the book. */
export interface Demand {
  /** Set when the model runs alone: no memory key, or `memory: auto` not measured yet. */
  alone: AloneReason | null;
  /** Bytes on named devices. */
  fixed: Record<string, number>;
  /** Bytes on each GPU it is given (`gpus: N` models). */
  perGpu: number;
  /** GPUs it is given at start (0: its devices are named). */
  gpus: number;
}

/** What a set of models takes together. */
export interface Layout {
  /** Every model fits its budgets and no model that must run alone shares the machine. */
  fits: boolean;
  /** Planned bytes per configured device. */
  used: Map<string, number>;
  /** GPUs of every `gpus: N` model (recorded or picked). */
  placements: Map<string, string[]>;
  /** Devices whose budget is exceeded. */
  over: string[];
  /** A model that must run alone but shares the machine, if any. */
  crowded: string | null;
}

/** What `model` takes: declared, measured (`auto`) or the whole machine (alone). */
export function demandOf(settings: MemorySettings, book: MemoryBook, model: string): Demand {
  const config = settings.models[model];
  const gpus = config?.gpus ?? 0;
  if (!config || config.source === "alone") return { alone: "undeclared", fixed: {}, perGpu: 0, gpus };
  if (config.source === "declared") {
    if (gpus > 0) {
      const { gpu = 0, ...rest } = config.declared;
      return { alone: null, fixed: rest, perGpu: gpu, gpus };
    }
    return { alone: null, fixed: { ...config.declared }, perGpu: 0, gpus };
  }
  const measured = book.measured(model);
  if (!measured) return { alone: "unmeasured", fixed: {}, perGpu: 0, gpus };
  const fixed: Record<string, number> = {};
  let perGpu = 0;
  for (const [device, bytes] of Object.entries(measured)) {
    if (gpus > 0 && device.startsWith("gpu")) perGpu = Math.max(perGpu, bytes);
    else fixed[device] = bytes;
  }
  return { alone: null, fixed, perGpu, gpus };
}

/** A device's budget in bytes, or null while its total is unknown (then it is not checked). */
export function budgetOf(settings: MemorySettings, book: MemoryBook, device: Device): number | null {
  if (device.budget !== "auto") return device.budget;
  const total = book.total(device.name);
  return total === null ? null : Math.max(0, total - settings.reserve);
}

/**
 * Lays `models` out on the devices. Recorded placements count first; models
 * not placed yet pick their GPUs in the order given (so a caller choosing
 * for one model lists it last).
 */
export function layout(settings: MemorySettings, book: MemoryBook, models: readonly string[]): Layout {
  const used = new Map<string, number>(settings.devices.map((device) => [device.name, 0]));
  const add = (device: string, bytes: number) => {
    const current = used.get(device);
    if (current !== undefined) used.set(device, current + bytes);
  };
  const placements = new Map<string, string[]>();
  const unplaced: Array<{ model: string; demand: Demand }> = [];
  let crowded: string | null = null;
  for (const model of models) {
    const demand = demandOf(settings, book, model);
    if (demand.alone !== null && models.length > 1) crowded ??= model;
    for (const [device, bytes] of Object.entries(demand.fixed)) add(device, bytes);
    if (demand.gpus === 0) continue;
    const placed = book.placement(model);
    if (placed) {
      placements.set(model, [...placed]);
      for (const device of placed) add(device, demand.perGpu);
    } else {
      unplaced.push({ model, demand });
    }
  }
  for (const { model, demand } of unplaced) {
    const chosen = freestGpus(settings, book, used, demand.gpus);
    placements.set(model, chosen);
    for (const device of chosen) add(device, demand.perGpu);
  }
  const over = settings.devices.filter((device) => {
    const budget = budgetOf(settings, book, device);
    return budget !== null && used.get(device.name)! > budget;
  }).map((device) => device.name);
  return { fits: crowded === null && over.length === 0, used, placements, over, crowded };
}

/** The `count` GPUs with the most free budget (unknown budgets count as free), then the least used, then the lower index. */
function freestGpus(settings: MemorySettings, book: MemoryBook, used: Map<string, number>, count: number): string[] {
  const free = (device: Device) => {
    const budget = budgetOf(settings, book, device);
    return budget === null ? Infinity : budget - used.get(device.name)!;
  };
  return settings.devices
    .filter((device) => device.kind === "gpu")
    .map((device) => ({ device, free: free(device), used: used.get(device.name)! }))
    .sort((a, b) => b.free - a.free || a.used - b.used || a.device.index! - b.device.index!)
    .slice(0, count)
    .map(({ device }) => device.name);
}
