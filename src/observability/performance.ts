/**
 * llama-swap's performance monitor (`GET /api/performance`): every
 * `performance.every` a sample of the machine — CPU use per core, RAM,
 * swap, load average, bytes through each network interface, and each GPU —
 * with the last hour kept in a ring (at most 720 samples, since `every` is
 * at least 5 s). Field names are llama-swap's, so its UI and scripts read
 * them as they are. Reading the samples costs nothing; taking one reads a
 * few `/proc` files. GPUs come from the memory monitor's readings, taken
 * only while someone asks (a scrape, `/api/hardware`, `/api/performance`),
 * so this poller never runs a GPU tool itself.
 */
import { type CpuTicks, cpuPercent, type GpuReading, kibField, parseCoreTicks, parseMeminfo } from "../upstream/memory-probe.ts";

/** One sample of the system, as llama-swap's `SysStat`. */
export interface SysStat {
  timestamp: string;
  cpu_util_per_core: number[];
  mem_total_mb: number;
  mem_used_mb: number;
  mem_free_mb: number;
  swap_total_mb: number;
  swap_used_mb: number;
  load_avg_1: number;
  load_avg_5: number;
  load_avg_15: number;
  net_io: Array<{ name: string; bytes_recv: number; bytes_sent: number }>;
}

/** One sample of one GPU, as llama-swap's `GpuStat` (0 where the tool reports nothing, as there). */
export interface GpuStat {
  timestamp: string;
  id: number;
  name: string;
  uuid: string;
  temp_c: number;
  vram_temp_c: number;
  gpu_util_pct: number;
  mem_util_pct: number;
  mem_used_mb: number;
  mem_total_mb: number;
  fan_speed_pct: number;
  power_draw_w: number;
}

/** Where samples come from. */
export interface PerformanceSources {
  /** The text of a `/proc` file, or null where there is none (not Linux). */
  proc(path: string): Promise<string | null>;
  /** The GPUs now; empty without a GPU tool. */
  gpus(): Promise<GpuReading[]>;
}

/** How long samples are kept (llama-swap's hour). */
const KEEP_MS = 3_600_000;
const MIB = 1024 * 1024;

/** The three load averages of `/proc/loadavg`. */
export function parseLoadAvg(text: string): [number, number, number] {
  const [one, five, fifteen] = text.trim().split(/\s+/).map(Number);
  return [one || 0, five || 0, fifteen || 0];
}

/** Bytes received and sent per interface, from `/proc/net/dev`. */
export function parseNetDev(text: string): SysStat["net_io"] {
  const interfaces: SysStat["net_io"] = [];
  for (const line of text.split("\n").slice(2)) {
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    const fields = line.slice(colon + 1).trim().split(/\s+/).map(Number);
    if (fields.length < 9) continue;
    interfaces.push({ name: line.slice(0, colon).trim(), bytes_recv: fields[0], bytes_sent: fields[8] });
  }
  return interfaces;
}

/** Whole MiB of a byte count, 0 where it is unknown. */
function mb(bytes: number | null | undefined): number {
  return bytes ? Math.floor(bytes / MIB) : 0;
}

/** Takes a sample every `everyMs` and keeps the last hour of them. */
export class PerformanceMonitor {
  readonly #sources: PerformanceSources;
  readonly #everyMs: number;
  readonly #capacity: number;
  readonly #sys: SysStat[] = [];
  readonly #gpu: GpuStat[][] = [];
  #previousCores: CpuTicks[] = [];
  #timer: ReturnType<typeof setInterval> | undefined;
  #sampling: Promise<void> | null = null;

  constructor(sources: PerformanceSources, everyMs: number) {
    this.#sources = sources;
    this.#everyMs = everyMs;
    this.#capacity = Math.max(1, Math.ceil(KEEP_MS / everyMs));
  }

  /** Take a first sample now, then one every `everyMs` until {@link stop}. */
  start(): Promise<void> {
    this.#timer ??= setInterval(() => void this.sample(), this.#everyMs);
    return this.sample();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Take one sample (a sample still being taken is shared). */
  sample(): Promise<void> {
    this.#sampling ??= this.#take().finally(() => (this.#sampling = null));
    return this.#sampling;
  }

  /** The newest system sample, or null before the first. */
  latest(): SysStat | null {
    return this.#sys.at(-1) ?? null;
  }

  /** The kept samples, oldest first; with `afterMs` only those taken after it. */
  current(afterMs?: number): { sys_stats: SysStat[]; gpu_stats: GpuStat[] } {
    const after = (stat: { timestamp: string }) => afterMs === undefined || Date.parse(stat.timestamp) > afterMs;
    return { sys_stats: this.#sys.filter(after), gpu_stats: this.#gpu.flat().filter(after) };
  }

  async #take(): Promise<void> {
    const read = (path: string) => this.#sources.proc(path).catch(() => null);
    const [stat, meminfo, loadavg, netdev, gpus] = await Promise.all([
      read("/proc/stat"),
      read("/proc/meminfo"),
      read("/proc/loadavg"),
      read("/proc/net/dev"),
      this.#sources.gpus().catch(() => []),
    ]);
    const timestamp = new Date().toISOString();
    const cores = stat ? parseCoreTicks(stat) : [];
    // The first sample's figures run from boot.
    const cpu = cores.map((now, i) => cpuPercent(this.#previousCores[i] ?? { busy: 0, total: 0 }, now) ?? 0);
    this.#previousCores = cores;
    const ram = meminfo ? parseMeminfo(meminfo) : null;
    const memTotal = mb(ram?.totalBytes);
    const memFree = mb(ram?.availableBytes);
    const swapTotal = mb(meminfo ? kibField(meminfo, "SwapTotal") : null);
    const [load1, load5, load15] = loadavg ? parseLoadAvg(loadavg) : [0, 0, 0];
    this.#keep(this.#sys, {
      timestamp,
      cpu_util_per_core: cpu,
      mem_total_mb: memTotal,
      mem_used_mb: memTotal - memFree,
      mem_free_mb: memFree,
      swap_total_mb: swapTotal,
      swap_used_mb: swapTotal - mb(meminfo ? kibField(meminfo, "SwapFree") : null),
      load_avg_1: load1,
      load_avg_5: load5,
      load_avg_15: load15,
      net_io: netdev ? parseNetDev(netdev) : [],
    });
    this.#keep(this.#gpu, gpus.map((gpu) => ({
      timestamp,
      id: gpu.index,
      name: gpu.name,
      uuid: gpu.uuid ?? "",
      temp_c: gpu.temperatureCelsius ?? 0,
      vram_temp_c: 0,
      gpu_util_pct: gpu.utilPercent ?? 0,
      mem_util_pct: gpu.memoryUtilPercent ?? 0,
      mem_used_mb: Math.round(gpu.usedBytes / MIB),
      mem_total_mb: Math.round(gpu.totalBytes / MIB),
      fan_speed_pct: gpu.fanPercent ?? 0,
      power_draw_w: gpu.powerWatts ?? 0,
    })));
  }

  #keep<T>(ring: T[], item: T): void {
    ring.push(item);
    if (ring.length > this.#capacity) ring.shift();
  }
}
