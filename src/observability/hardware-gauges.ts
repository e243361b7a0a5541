/**
 * llama-swap's hardware gauges on `/metrics`, with its names (its
 * performance monitor's), so its Grafana dashboard shows modelswap's GPUs
 * and RAM: `llamaswap_gpu_*{gpu="0",name="…"}` and
 * `llamaswap_memory_{total,used,free}_bytes` from the last hardware sample
 * (taken on demand, at a scrape); `llamaswap_cpu_util_percent{core}`,
 * `llamaswap_swap_{total,used}_bytes`, `llamaswap_load_average{interval}`
 * and `llamaswap_network_bytes_total{interface,direction}` from the
 * performance monitor's last sample (none with `performance.disabled`).
 */
import type { SysStat } from "./performance.ts";
import type { Counter, Gauge, Registry } from "./prometheus.ts";

/** One sample of the hardware, as the gauges show it. */
export interface HardwareGauges {
  gpus: Array<{
    /** GPU index as the vendor tool reports it. */
    gpu: string;
    name: string;
    memoryUsedBytes: number;
    memoryTotalBytes: number;
    utilPercent: number | null;
    memoryUtilPercent: number | null;
    temperatureCelsius: number | null;
    powerDrawWatts: number | null;
    fanSpeedPercent: number | null;
  }>;
  /** System RAM (MemAvailable counts as free), or null where it is unknown. */
  memory: { totalBytes: number; usedBytes: number; freeBytes: number } | null;
  /** The performance monitor's last sample, if it runs. */
  system?: SysStat | null;
}

const MB = 1024 * 1024;

type GpuField = Exclude<keyof HardwareGauges["gpus"][number], "gpu" | "name">;

/** The GPU and RAM gauge families, registered once and refilled at each scrape. */
export class HardwareGaugeSet {
  readonly #gpu: Array<[GpuField, Gauge]>;
  readonly #memory: Array<["totalBytes" | "usedBytes" | "freeBytes", Gauge]>;
  readonly #cpu: Gauge;
  readonly #swap: Array<["swap_total_mb" | "swap_used_mb", Gauge]>;
  readonly #load: Gauge;
  readonly #network: Counter;

  constructor(registry: Registry) {
    const gpu = (name: string, help: string) => registry.gauge(`llamaswap_gpu_${name}`, help, ["gpu", "name"]);
    this.#gpu = [
      ["memoryUsedBytes", gpu("memory_used_bytes", "GPU memory in use (all processes).")],
      ["memoryTotalBytes", gpu("memory_total_bytes", "GPU memory in total.")],
      ["utilPercent", gpu("util_percent", "GPU utilisation.")],
      ["memoryUtilPercent", gpu("memory_util_percent", "GPU memory bandwidth utilisation.")],
      ["temperatureCelsius", gpu("temperature_celsius", "GPU temperature.")],
      ["powerDrawWatts", gpu("power_draw_watts", "GPU power draw.")],
      ["fanSpeedPercent", gpu("fan_speed_percent", "GPU fan speed.")],
    ];
    this.#memory = [
      ["totalBytes", registry.gauge("llamaswap_memory_total_bytes", "System RAM in total.")],
      ["usedBytes", registry.gauge("llamaswap_memory_used_bytes", "System RAM in use (total minus available).")],
      ["freeBytes", registry.gauge("llamaswap_memory_free_bytes", "System RAM available.")],
    ];
    this.#cpu = registry.gauge("llamaswap_cpu_util_percent", "CPU utilisation per core (0-100).", ["core"]);
    this.#swap = [
      ["swap_total_mb", registry.gauge("llamaswap_swap_total_bytes", "Swap in total.")],
      ["swap_used_mb", registry.gauge("llamaswap_swap_used_bytes", "Swap in use.")],
    ];
    this.#load = registry.gauge("llamaswap_load_average", "Load average.", ["interval"]);
    this.#network = registry.counter("llamaswap_network_bytes_total", "Bytes through each network interface since boot.", ["interface", "direction"]);
  }

  /** Replace every series with this sample's (none without a sample; a value the tool did not report is left out). */
  fill(sample: HardwareGauges | null): void {
    for (const [, gauge] of [...this.#gpu, ...this.#memory, ...this.#swap]) gauge.reset();
    for (const family of [this.#cpu, this.#load, this.#network]) family.reset();
    if (!sample) return;
    if (sample.system) this.#fillSystem(sample.system);
    for (const gpu of sample.gpus) {
      for (const [field, gauge] of this.#gpu) {
        const value = gpu[field];
        if (value !== null) gauge.set({ gpu: gpu.gpu, name: gpu.name }, value);
      }
    }
    if (sample.memory) for (const [field, gauge] of this.#memory) gauge.set({}, sample.memory[field]);
  }

  #fillSystem(system: SysStat): void {
    system.cpu_util_per_core.forEach((percent, core) => this.#cpu.set({ core: String(core) }, percent));
    for (const [field, gauge] of this.#swap) gauge.set({}, system[field] * MB);
    this.#load.set({ interval: "1m" }, system.load_avg_1);
    this.#load.set({ interval: "5m" }, system.load_avg_5);
    this.#load.set({ interval: "15m" }, system.load_avg_15);
    for (const io of system.net_io) {
      this.#network.setTotal({ interface: io.name, direction: "recv" }, io.bytes_recv);
      this.#network.setTotal({ interface: io.name, direction: "sent" }, io.bytes_sent);
    }
  }
}
