/**
 * The memory planner's settings: the devices and their budgets, and what
 * every model needs on them, checked against each other once at load so a
 * model that can never fit, a device nobody configured or a `gpus` count
 * larger than the machine is a config error naming its key.
 */
import type { PlannerIssue } from "../issue.ts";
import { formatBytes } from "./units.ts";

/** `routing.router.settings.memory` as the config loader normalises it (sizes in bytes). */
export interface MemoryConfig {
  /** Budget per device name (`gpu0`, …, `ram`), in the user's order: bytes, or "auto" (reported total minus reserve). */
  devices: Record<string, number | "auto">;
  /** Bytes kept free on every device whose budget is "auto". */
  reserve: number;
  /** Which running models go first: least recently used, or cheapest to reload. */
  policy: "lru" | "cost";
  /** Model id → cost of evicting it (policy cost); default 1. */
  evictCosts: Record<string, number>;
}

/** A model's `memory` and `gpus` keys as written (sizes in bytes). */
export interface ModelMemoryConfig {
  memory?: number | "auto" | Record<string, number>;
  gpus?: number;
}

/** One budgeted device. */
export interface Device {
  name: string;
  kind: "gpu" | "ram";
  /** GPU index as nvidia-smi/rocm-smi report it; null for ram. */
  index: number | null;
  /** Bytes, or "auto": the total the system reports, minus the reserve. */
  budget: number | "auto";
}

/** What one model needs, once resolved from its config. */
export interface ModelMemory {
  /**
   * `declared`: the figures below; `auto`: its last measurement (it runs
   * alone until it has one); `alone`: no memory key, so it runs alone (as
   * with no planner at all).
   */
  source: "declared" | "auto" | "alone";
  /** Declared bytes per device name; for a `gpus: N` model, `gpu` is the need on each of its GPUs. */
  declared: Record<string, number>;
  /** GPUs picked at each start (the freest), or null when its devices are named. */
  gpus: number | null;
}

/** Everything the planner reads that comes from the config. */
export interface MemorySettings {
  /** In the user's order: a bare size in a model's `memory` means the first one. */
  devices: Device[];
  reserve: number;
  policy: "lru" | "cost";
  costs: Record<string, number>;
  models: Record<string, ModelMemory>;
}

const GPU_NAME = /^gpu(\d{1,2})$/;

/** The kind and index of a device name, or null when it is not one. */
function parseDevice(name: string): Pick<Device, "kind" | "index"> | null {
  if (name === "ram") return { kind: "ram", index: null };
  const gpu = GPU_NAME.exec(name);
  return gpu ? { kind: "gpu", index: Number(gpu[1]) } : null;
}

/**
 * Checks the memory block and every model's `memory`/`gpus` against it.
 * `at` is where the block lives in the YAML (`routing.router.settings.memory`).
 */
export function compileMemory(
  config: MemoryConfig,
  models: Record<string, ModelMemoryConfig>,
  modelIds: string[],
  at: string,
): { settings: MemorySettings | null; issues: PlannerIssue[] } {
  const issues: PlannerIssue[] = [];
  const devices: Device[] = [];
  for (const [name, budget] of Object.entries(config.devices)) {
    const parsed = parseDevice(name);
    if (parsed) devices.push({ name, ...parsed, budget });
    else issues.push({ path: `${at}.devices.${name}`, message: "is not a device name; use gpu0, gpu1, … (the GPU indices nvidia-smi or rocm-smi show) or ram" });
  }
  if (Object.keys(config.devices).length === 0) {
    issues.push({ path: `${at}.devices`, message: "lists no device; add at least one, e.g. ram: auto" });
  }
  const known = new Set(modelIds);
  for (const [model, cost] of Object.entries(config.evictCosts)) {
    if (!known.has(model)) issues.push({ path: `${at}.evict_costs.${model}`, message: `"${model}" is not a configured model id` });
    else if (!(cost >= 0)) issues.push({ path: `${at}.evict_costs.${model}`, message: "must be a number >= 0" });
  }
  if (config.policy === "cost" && Object.keys(config.evictCosts).length === 0) {
    issues.push({
      path: `${at}.policy`,
      message: "is cost but evict_costs is empty, so every model would cost the same; give the models that are slow to reload a cost (e.g. evict_costs: {big: 10}), or use policy: lru",
    });
  }
  const resolved: Record<string, ModelMemory> = {};
  for (const id of modelIds) {
    resolved[id] = compileModel(id, models[id] ?? {}, devices, at, issues);
  }
  if (issues.length > 0) return { settings: null, issues };
  return { settings: { devices, reserve: config.reserve, policy: config.policy, costs: config.evictCosts, models: resolved }, issues };
}

function compileModel(id: string, config: ModelMemoryConfig, devices: Device[], at: string, issues: PlannerIssue[]): ModelMemory {
  const path = `models.${id}.memory`;
  const gpuDevices = devices.filter((device) => device.kind === "gpu");
  const gpus = config.gpus ?? null;
  if (gpus !== null && gpus > gpuDevices.length) {
    issues.push({
      path: `models.${id}.gpus`,
      message: `asks for ${gpus} GPUs but ${gpuDevices.length === 0 ? "no GPU device is" : `only ${gpuDevices.length} GPU device${gpuDevices.length === 1 ? " is" : "s are"}`} configured under ${at}.devices`,
    });
  }
  const memory = config.memory;
  if (memory === undefined) return { source: "alone", declared: {}, gpus };
  if (memory === "auto") return { source: "auto", declared: {}, gpus };
  const first = devices[0]?.name;
  const declared: Record<string, number> = typeof memory === "number"
    ? gpus !== null ? { gpu: memory } : first ? { [first]: memory } : {}
    : { ...memory };
  const bare = typeof memory === "number";
  for (const [name, bytes] of Object.entries(declared)) {
    const keyPath = bare ? path : `${path}.${name}`;
    if (gpus !== null) {
      if (name !== "gpu" && name !== "ram") {
        issues.push({ path: keyPath, message: `with gpus: ${gpus} the planner picks the GPUs; write the need on each of them as gpu: <size> (and ram: <size>)` });
      } else if (name === "gpu") {
        checkGpuFit(id, bytes, gpus, gpuDevices, keyPath, at, issues);
      } else {
        checkFit(id, bytes, devices.find((device) => device.name === "ram"), keyPath, at, issues, name);
      }
      continue;
    }
    if (name === "gpu") {
      issues.push({ path: keyPath, message: "gpu (the need on each picked GPU) needs gpus: N; or name the device, e.g. gpu0" });
      continue;
    }
    checkFit(id, bytes, devices.find((device) => device.name === name), keyPath, at, issues, name);
  }
  return { source: "declared", declared, gpus };
}

/** The need must fit the device's budget, when that budget is a number. */
function checkFit(id: string, bytes: number, device: Device | undefined, path: string, at: string, issues: PlannerIssue[], name: string): void {
  if (!device) {
    issues.push({ path, message: `"${name}" is not a configured device; add it under ${at}.devices (e.g. ${name}: auto)` });
  } else if (device.budget !== "auto" && bytes > device.budget) {
    issues.push({
      path,
      message: `model "${id}" needs ${formatBytes(bytes)} on ${device.name} but its budget is ${formatBytes(device.budget)} (${at}.devices.${device.name}); it could never run`,
    });
  }
}

/** A `gpus: N` model's need on each GPU must fit at least N GPU budgets (unless some budgets are auto). */
function checkGpuFit(id: string, bytes: number, gpus: number, gpuDevices: Device[], path: string, at: string, issues: PlannerIssue[]): void {
  if (gpus > gpuDevices.length || gpuDevices.some((device) => device.budget === "auto")) return;
  const roomy = gpuDevices.filter((device) => device.budget !== "auto" && bytes <= device.budget).length;
  if (roomy < gpus) {
    issues.push({
      path,
      message: `model "${id}" needs ${formatBytes(bytes)} on each of ${gpus} GPUs but only ${roomy} GPU budget${roomy === 1 ? " is" : "s are"} that large (${at}.devices); it could never run`,
    });
  }
}
