/**
 * llama-swap's hardware gauges on `/metrics`, with its names (its
 * performance monitor's), so its Grafana dashboard shows modelswap's GPUs
 * and RAM: `llamaswap_gpu_*{gpu="0",name="…"}` and
 * `llamaswap_memory_{total,used,free}_bytes`. Values come from the last
 * hardware sample, taken on demand (a scrape), never by a poller.
 */
import type { Gauge, Registry } from "./prometheus.ts";

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
}

type GpuField = Exclude<keyof HardwareGauges["gpus"][number], "gpu" | "name">;

/** The GPU and RAM gauge families, registered once and refilled at each scrape. */
export class HardwareGaugeSet {
  readonly #gpu: Array<[GpuField, Gauge]>;
  readonly #memory: Array<["totalBytes" | "usedBytes" | "freeBytes", Gauge]>;

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
  }

  /** Replace every series with this sample's (none without a sample; a value the tool did not report is left out). */
  fill(sample: HardwareGauges | null): void {
    for (const [, gauge] of [...this.#gpu, ...this.#memory]) gauge.reset();
    if (!sample) return;
    for (const gpu of sample.gpus) {
      for (const [field, gauge] of this.#gpu) {
        const value = gpu[field];
        if (value !== null) gauge.set({ gpu: gpu.gpu, name: gpu.name }, value);
      }
    }
    if (sample.memory) for (const [field, gauge] of this.#memory) gauge.set({}, sample.memory[field]);
  }
}
