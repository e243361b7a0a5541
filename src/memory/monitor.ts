/**
 * Keeps the memory planner's book true to the machine, and shows it. It
 * is the measuring side of `routing.router.use: memory`:
 *
 * - at start, reads the device totals (for `auto` budgets) and the last
 *   measurements (the state file), saying in one line what it found;
 * - before each start of a model, gives it its GPUs (`gpus: N`: the
 *   freest; named devices: those) as `CUDA_VISIBLE_DEVICES` (or
 *   `HIP_VISIBLE_DEVICES` with rocm-smi) and `${GPUS}` in its command, and
 *   records the placement; a stop releases it;
 * - once a model is ready, measures its process group (GPU memory of its
 *   pids, RSS), records it for `memory: auto`, saves the state file, and
 *   warns once when a declared figure is more than 20% below the measured;
 * - samples the devices on demand (`/api/hardware`, a `/metrics` scrape) at
 *   most every few seconds, and never when nobody asks.
 *
 * Every probe runs beside the request path, never in it.
 */
import type { Logger } from "../logging/logger.ts";
import type { HardwareGauges } from "../observability/hardware-gauges.ts";
import type { Runtime } from "../runtime/runtime.ts";
import type { Planner } from "../scheduler/effects.ts";
import { MemoryBook } from "../scheduler/planners/memory/book.ts";
import { MemoryPlanner } from "../scheduler/planners/memory/planner.ts";
import { formatBytes } from "../scheduler/planners/memory/units.ts";
import { cpuPercent, type GpuReading, MemoryProbe, type SystemReading } from "../upstream/memory-probe.ts";
import type { UpstreamSpec } from "../upstream/spec.ts";
import type { ModelState } from "../upstream/state.ts";
import { type Measurement, readMeasurements, stateFilePath, writeMeasurements } from "./state-file.ts";
import type { DeviceBytes, DeviceMemoryInfo, HardwareDevice, HardwareInfo, MemoryView, ModelMemoryInfo } from "./view.ts";

/** A sample younger than this is reused (`/api/hardware`, scrapes). */
export const SAMPLE_MAX_AGE_MS = 2000;
/** A scrape waits this long for a fresh sample, then renders the last one (a hung tool never stalls /metrics). */
const SCRAPE_WAIT_MS = 1000;
/** A declared figure this much below the measured one gets a warning. */
const MISMATCH_RATIO = 1.2;
/** The variables that choose the GPUs a process sees. */
const VISIBLE_DEVICES = ["CUDA_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES"];

/** What the monitor reads from the rest of the router. */
export interface MonitorDeps {
  runtime: Runtime;
  log: Logger;
  /** Models whose process is starting, ready or stopping. */
  running(): string[];
  /** A model's configured `env` (a visible-devices variable set there is left alone). */
  envOf(model: string): Record<string, string>;
}

/** The per-model callbacks an upstream calls (see `UpstreamHooks`). */
export interface MemoryHooks {
  beforeStart(spec: UpstreamSpec): UpstreamSpec;
  onReady(id: string, pgid: number): void;
  onState(id: string, from: ModelState, to: ModelState): void;
}

/** The measuring side of the memory planner, and the hardware view. */
export class MemoryMonitor implements MemoryView {
  readonly book = new MemoryBook();
  readonly #deps: MonitorDeps;
  readonly #probe: MemoryProbe;
  readonly #statePath: string | null;
  #planner: MemoryPlanner | null = null;
  #measurements: Record<string, Measurement> = {};
  #started = false;
  /** The last reading, and the CPU use since the one before it. */
  #sample: { at: number; reading: SystemReading; cpuPercent: number | null } | null = null;
  #sampling: Promise<void> | null = null;
  #saving: Promise<void> = Promise.resolve();
  readonly #warned = new Set<string>();

  constructor(deps: MonitorDeps) {
    this.#deps = deps;
    this.#probe = new MemoryProbe(deps.runtime);
    this.#statePath = stateFilePath(deps.runtime);
  }

  /**
   * The planner to schedule with: a memory planner is re-bound to this
   * monitor's book (kept across reloads); any other is returned as it is.
   */
  bind(planner: Planner): Planner {
    this.#planner = planner instanceof MemoryPlanner ? planner.withBook(this.book) : null;
    return this.#planner ?? planner;
  }

  /**
   * With the memory planner: read the devices and the state file once
   * (later calls do nothing), and say in one line what was found.
   */
  async start(): Promise<void> {
    if (!this.#planner || this.#started) return;
    this.#started = true;
    if (this.#statePath) {
      this.#measurements = await readMeasurements(this.#deps.runtime, this.#statePath);
      for (const [model, { usage }] of Object.entries(this.#measurements)) this.book.record(model, usage);
    }
    await this.#refresh(0);
    const reading = this.#sample!.reading;
    const ram = reading.ram ? `ram ${formatBytes(reading.ram.totalBytes)}` : "no /proc/meminfo, so RAM budgets set to auto are not checked";
    if (reading.vendor === null) {
      this.#deps.log.info(`memory: neither nvidia-smi nor rocm-smi was found; measuring RAM only (${ram}; GPU budgets set to auto are not checked)`);
    } else {
      const tool = reading.vendor === "nvidia" ? "nvidia-smi" : "rocm-smi";
      const gpus = reading.gpus.map((gpu) => `gpu${gpu.index} ${formatBytes(gpu.totalBytes)}`).join(", ") || "no GPU";
      this.#deps.log.info(`memory: ${tool} reports ${gpus}; ${ram}`);
    }
    const known = Object.keys(this.#measurements).length;
    if (known > 0) this.#deps.log.debug(`memory: ${known} measurement${known === 1 ? "" : "s"} read from ${this.#statePath}`);
  }

  /** The callbacks an upstream calls around its starts; `base.onState` (the router's) runs after a stop released the GPUs. */
  hooks(base: { onState?(id: string, from: ModelState, to: ModelState): void }): MemoryHooks {
    return {
      beforeStart: (spec) => this.#beforeStart(spec),
      onReady: (id, pgid) => {
        if (this.#planner) void this.#measure(id, pgid);
      },
      onState: (id, from, to) => {
        if (to === "stopped" || to === "failed") this.book.release(id);
        base.onState?.(id, from, to);
      },
    };
  }

  planning(): boolean {
    return this.#planner !== null;
  }

  model(id: string): ModelMemoryInfo | null {
    const planner = this.#planner;
    const config = planner?.settings.models[id];
    if (!planner || !config) return null;
    const measurement = this.#measurements[id];
    return {
      declared: config.source === "declared" ? { ...config.declared } : config.source === "auto" ? "auto" : null,
      planned: planner.needOf(id, this.#deps.running()),
      measured: measurement ? { ...measurement.usage } : null,
      measuredAt: measurement?.at ?? null,
      gpus: this.book.placement(id) ? [...this.book.placement(id)!] : null,
    };
  }

  devices(): DeviceMemoryInfo[] {
    if (!this.#planner) return [];
    return this.#planner.devicesWith(this.#deps.running()).map(({ name, budget, planned }) => ({
      name,
      budget,
      planned,
      free: budget === null ? null : budget - planned,
      total: this.book.total(name),
    }));
  }

  async hardware(): Promise<HardwareInfo> {
    await this.#refresh(SAMPLE_MAX_AGE_MS);
    const { at, reading, cpuPercent } = this.#sample!;
    const running = this.#deps.running();
    const planned = new Map(this.devices().map((device) => [device.name, device]));
    const device = (name: string, figures: Partial<HardwareDevice>): HardwareDevice => ({
      name,
      kind: name === "ram" ? "ram" : "gpu",
      index: name === "ram" ? null : Number(name.slice(3)),
      product: null,
      totalBytes: null,
      usedBytes: null,
      freeBytes: null,
      utilPercent: null,
      temperatureCelsius: null,
      powerWatts: null,
      budgetBytes: planned.get(name)?.budget ?? null,
      plannedBytes: planned.get(name)?.planned ?? null,
      models: running.map((model) => ({
        model,
        plannedBytes: this.#planner?.needOf(model, running)?.[name] ?? null,
        measuredBytes: this.#measurements[model]?.usage[name] ?? null,
      })).filter((entry) => entry.plannedBytes !== null || entry.measuredBytes !== null),
      ...figures,
    });
    const devices = reading.gpus.map((gpu) =>
      device(`gpu${gpu.index}`, {
        product: gpu.name,
        totalBytes: gpu.totalBytes,
        usedBytes: gpu.usedBytes,
        freeBytes: gpu.totalBytes - gpu.usedBytes,
        utilPercent: gpu.utilPercent,
        temperatureCelsius: gpu.temperatureCelsius,
        powerWatts: gpu.powerWatts,
      })
    );
    const ram = reading.ram;
    // The host: its memory, and its CPUs' use as the utilisation.
    devices.push(device("ram", { ...(ram ? { totalBytes: ram.totalBytes, usedBytes: ram.totalBytes - ram.availableBytes, freeBytes: ram.availableBytes } : {}), utilPercent: cpuPercent }));
    // Configured devices the system did not report (a GPU that is gone, no tool) still show their budget.
    for (const name of planned.keys()) if (!devices.some((shown) => shown.name === name)) devices.push(device(name, {}));
    return { vendor: reading.vendor, sampledAt: new Date(at).toISOString(), planning: this.planning(), devices };
  }

  async refresh(): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const waited = new Promise<void>((resolve) => (timer = setTimeout(resolve, SCRAPE_WAIT_MS)));
    await Promise.race([this.#refresh(SAMPLE_MAX_AGE_MS), waited]);
    clearTimeout(timer);
  }

  /** Every GPU as the last reading shows it if it is at most `maxAgeMs` old (someone asked lately), else none; never reads the devices itself. */
  recentGpus(maxAgeMs: number): GpuReading[] {
    const sample = this.#sample;
    return sample && Date.now() - sample.at <= maxAgeMs ? sample.reading.gpus : [];
  }

  /** The last sample as gauges (what `/metrics` renders), or null before any. */
  gauges(): HardwareGauges | null {
    if (!this.#sample) return null;
    const { gpus, ram } = this.#sample.reading;
    return {
      gpus: gpus.map((gpu) => ({
        gpu: String(gpu.index),
        name: gpu.name,
        memoryUsedBytes: gpu.usedBytes,
        memoryTotalBytes: gpu.totalBytes,
        utilPercent: gpu.utilPercent,
        memoryUtilPercent: gpu.memoryUtilPercent,
        temperatureCelsius: gpu.temperatureCelsius,
        powerDrawWatts: gpu.powerWatts,
        fanSpeedPercent: gpu.fanPercent,
      })),
      memory: ram ? { totalBytes: ram.totalBytes, usedBytes: ram.totalBytes - ram.availableBytes, freeBytes: ram.availableBytes } : null,
    };
  }

  /** Take a sample unless the last one is younger than `maxAgeMs`; concurrent callers share one. */
  #refresh(maxAgeMs: number): Promise<void> {
    if (this.#sample && Date.now() - this.#sample.at < maxAgeMs) return Promise.resolve();
    this.#sampling ??= this.#probe.system().then((reading) => {
      this.#sample = { at: Date.now(), reading, cpuPercent: cpuPercent(this.#sample?.reading.cpu ?? null, reading.cpu) };
      const totals: DeviceBytes = {};
      for (const gpu of reading.gpus) totals[`gpu${gpu.index}`] = gpu.totalBytes;
      if (reading.ram) totals.ram = reading.ram.totalBytes;
      this.book.setTotals(totals);
    }, (error) => {
      // Keep what was known; with nothing yet, an empty reading (the views show unknowns).
      this.#sample ??= { at: Date.now(), reading: { vendor: null, gpus: [], ram: null, cpu: null }, cpuPercent: null };
      this.#deps.log.debug(`memory: reading the devices failed: ${error instanceof Error ? error.message : error}`);
    }).finally(() => (this.#sampling = null));
    return this.#sampling;
  }

  /** Choose and record the start's GPUs; give them as the visible devices and `${GPUS}`. */
  #beforeStart(spec: UpstreamSpec): UpstreamSpec {
    const planner = this.#planner;
    const config = planner?.settings.models[spec.id];
    if (!planner || !config) return spec;
    let gpus = planner.chooseGpus(spec.id, this.#deps.running().filter((model) => model !== spec.id));
    if (gpus) this.book.place(spec.id, gpus);
    else if (config.source === "declared") gpus = Object.keys(config.declared).filter((device) => /^gpu\d+$/.test(device));
    const indices = (gpus ?? []).map((device) => device.slice(3)).join(",");
    const argv = spec.argv.map((arg) => arg.replaceAll("${GPUS}", indices));
    const own = this.#deps.envOf(spec.id);
    if (!gpus?.length || VISIBLE_DEVICES.some((name) => name in own)) return { ...spec, argv };
    const variable = this.#probe.vendor === "amd" ? "HIP_VISIBLE_DEVICES" : "CUDA_VISIBLE_DEVICES";
    return { ...spec, argv, env: { ...spec.env, [variable]: indices } };
  }

  /** Measure a ready model's process group and record it. */
  async #measure(model: string, pgid: number): Promise<void> {
    try {
      const reading = await this.#probe.group(pgid);
      if (reading.pids.length === 0) return; // it stopped meanwhile
      const usage: DeviceBytes = {};
      for (const [index, bytes] of [...reading.gpuBytes].sort(([a], [b]) => a - b)) usage[`gpu${index}`] = bytes;
      if (reading.unplacedGpuBytes > 0) this.#spread(model, reading.unplacedGpuBytes, usage);
      // With weights on a GPU, the file pages of the mmapped model file are reclaimable cache: not counted.
      usage.ram = Object.keys(usage).length > 0 ? reading.anonBytes : reading.rssBytes;
      this.book.record(model, usage);
      this.#measurements[model] = { usage, at: new Date().toISOString() };
      const figures = Object.entries(usage).map(([device, bytes]) => `${device} ${formatBytes(bytes)}`).join(", ");
      this.#deps.log.info(`${model}: measured ${figures} (${reading.pids.length} process${reading.pids.length === 1 ? "" : "es"})`);
      this.#warnMismatch(model, usage);
      this.#save();
    } catch (error) {
      this.#deps.log.warn(`${model}: could not measure its memory: ${error instanceof Error ? error.message : error}`);
    }
  }

  /** GPU memory whose GPU the tool does not name (rocm-smi): over the model's GPUs, else over every GPU. */
  #spread(model: string, bytes: number, usage: DeviceBytes): void {
    const declared = this.#planner?.settings.models[model]?.declared ?? {};
    const named = Object.keys(declared).filter((device) => /^gpu\d+$/.test(device));
    const gpus = this.book.placement(model) ?? (named.length ? named : this.#sample?.reading.gpus.map((gpu) => `gpu${gpu.index}`) ?? []);
    for (const device of gpus) usage[device] = (usage[device] ?? 0) + bytes / gpus.length;
  }

  /** One warning per model and device when the declared figure is more than 20% below the measured one. */
  #warnMismatch(model: string, usage: DeviceBytes): void {
    const config = this.#planner?.settings.models[model];
    if (config?.source !== "declared") return;
    for (const [device, declared] of Object.entries(config.declared)) {
      const measured = device === "gpu"
        ? Math.max(0, ...(this.book.placement(model) ?? []).map((gpu) => usage[gpu] ?? 0))
        : usage[device] ?? 0;
      const key = `${model}\0${device}`;
      if (measured <= declared * MISMATCH_RATIO || this.#warned.has(key)) continue;
      this.#warned.add(key);
      const where = device === "gpu" ? "each of its GPUs" : device;
      this.#deps.log.warn(
        `${model}: declares ${formatBytes(declared)} on ${where} but was measured using ${formatBytes(measured)} ` +
          `(more than 20% above); raise models.${model}.memory or use memory: auto, or models may be started beside it that do not fit`,
      );
    }
  }

  /** Write the state file; writes never overlap, and each failure is a warning (the measurement stays in memory). */
  #save(): void {
    const path = this.#statePath;
    if (!path) return;
    this.#saving = this.#saving.then(() => writeMeasurements(this.#deps.runtime, path, this.#measurements)).catch((error) => {
      this.#deps.log.warn(`memory: could not save measurements to ${path}: ${error instanceof Error ? error.message : error}`);
    });
  }
}
