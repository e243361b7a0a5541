/**
 * What the machine and a model's process group really use. GPUs are read
 * from `nvidia-smi` (or `rocm-smi` on AMD), run through the runtime seam
 * with a timeout and bounded output; RAM from Linux `/proc` (the group's
 * resident set, summed over every process whose process group is the
 * upstream's, and `/proc/meminfo`), the CPUs' time counters from
 * `/proc/stat`. Nothing here waits on a request: callers
 * run it after a model became ready or when someone asks for the figures.
 */
import { parseProcStat } from "../runtime/procfs.ts";
import type { Runtime } from "../runtime/runtime.ts";

/** One GPU as the vendor tool reports it (sizes in bytes; null where the tool reports nothing). */
export interface GpuReading {
  index: number;
  uuid: string | null;
  name: string;
  totalBytes: number;
  usedBytes: number;
  utilPercent: number | null;
  memoryUtilPercent: number | null;
  temperatureCelsius: number | null;
  powerWatts: number | null;
  fanPercent: number | null;
}

/** The machine's memory at one moment. */
export interface SystemReading {
  /** Which tool answered: null when neither is installed (RAM only). */
  vendor: "nvidia" | "amd" | null;
  gpus: GpuReading[];
  /** From /proc/meminfo; null where there is no procfs. */
  ram: { totalBytes: number; availableBytes: number } | null;
  /** The CPUs' time counters since boot (/proc/stat); two readings give the CPU use between them. */
  cpu: CpuTicks | null;
}

/** Clock ticks all CPUs spent busy, and in all, since boot. */
export interface CpuTicks {
  busy: number;
  total: number;
}

/** What one process group uses. */
export interface GroupReading {
  /** Live processes of the group. */
  pids: number[];
  /** Sum of their resident set sizes. */
  rssBytes: number;
  /**
   * The part of it that is not file pages (RssAnon + RssShmem): what a
   * model whose weights went to a GPU keeps in RAM, since the file pages of
   * its mmapped weights are reclaimable cache once they were copied.
   */
  anonBytes: number;
  /** GPU memory per GPU index (nvidia-smi says which GPU). */
  gpuBytes: Map<number, number>;
  /** GPU memory whose GPU the tool does not say (rocm-smi's per-process figure). */
  unplacedGpuBytes: number;
}

/** How long one tool run may take before it is killed. */
export const TOOL_TIMEOUT_MS = 5000;
/** Output read from one tool run; a tool that says more is cut off there. */
const MAX_TOOL_OUTPUT = 1024 * 1024;
/** Entries of /proc looked at when walking processes: far beyond a real machine's process count. */
const MAX_PROC_ENTRIES = 65_536;
/** /proc files read at once while walking them. */
const PROC_BATCH = 64;

const MiB = 1024 * 1024;

const NVIDIA_GPU_FIELDS = "index,uuid,name,memory.total,memory.used,utilization.gpu,utilization.memory,temperature.gpu,power.draw,fan.speed";
/** argv of the nvidia-smi query for every GPU (memory in MiB). */
export const NVIDIA_GPU_QUERY = ["nvidia-smi", `--query-gpu=${NVIDIA_GPU_FIELDS}`, "--format=csv,noheader,nounits"];
/** argv of the nvidia-smi query for the processes using GPU memory (MiB). */
export const NVIDIA_APPS_QUERY = ["nvidia-smi", "--query-compute-apps=gpu_uuid,pid,used_memory", "--format=csv,noheader,nounits"];
/** argv of the rocm-smi query for every GPU. */
export const ROCM_GPU_QUERY = ["rocm-smi", "--showmeminfo", "vram", "--showuse", "--showtemp", "--showpower", "--showproductname", "--json"];
/** argv of the rocm-smi query for the processes using GPUs. */
export const ROCM_APPS_QUERY = ["rocm-smi", "--showpids", "--json"];

/** How a tool run ended. */
export type ToolResult = { kind: "ok"; stdout: string } | { kind: "missing" } | { kind: "failed"; reason: string };

/**
 * Runs a tool in its own process group, reading at most 1 MiB of its
 * output; kills the group after `timeoutMs`. "missing" when it cannot be
 * started at all (not installed).
 */
export async function runTool(runtime: Runtime, argv: string[], timeoutMs = TOOL_TIMEOUT_MS): Promise<ToolResult> {
  let child;
  try {
    child = runtime.spawn({ argv, newProcessGroup: true, output: "pipe" });
  } catch {
    return { kind: "missing" };
  }
  const timer = setTimeout(() => runtime.killGroup(child.pid, "SIGKILL"), timeoutMs);
  try {
    const [stdout, , status] = await Promise.all([readBounded(child.stdout), readBounded(child.stderr), child.exited]);
    if (status.code === 0) return { kind: "ok", stdout };
    if (status.signal === "SIGKILL") return { kind: "failed", reason: `${argv[0]} did not answer within ${timeoutMs / 1000}s` };
    return { kind: "failed", reason: `${argv[0]} ${status.signal ? `was killed by ${status.signal}` : `exited with code ${status.code}`}` };
  } finally {
    clearTimeout(timer);
  }
}

/** The stream's text up to MAX_TOOL_OUTPUT bytes; the rest is read and dropped so the tool never blocks. */
async function readBounded(stream: ReadableStream<Uint8Array> | null): Promise<string> {
  if (!stream) return "";
  const decoder = new TextDecoder();
  let text = "";
  let bytes = 0;
  for await (const chunk of stream) {
    if (bytes < MAX_TOOL_OUTPUT) text += decoder.decode(chunk.subarray(0, MAX_TOOL_OUTPUT - bytes), { stream: true });
    bytes += chunk.length;
  }
  return text + decoder.decode();
}

/** A number from a tool's output, or null for `[N/A]`, `[Not Supported]` and the like. */
function numberOrNull(text: string | undefined): number | null {
  if (text === undefined) return null;
  const value = Number.parseFloat(text.trim());
  return Number.isFinite(value) ? value : null;
}

/** Rows of `nvidia-smi --query-gpu=…` (fields as in {@link NVIDIA_GPU_QUERY}). */
export function parseNvidiaGpus(csv: string): GpuReading[] {
  const gpus: GpuReading[] = [];
  for (const line of csv.split("\n")) {
    const cells = line.split(",").map((cell) => cell.trim());
    const index = Number(cells[0]);
    const total = numberOrNull(cells[3]);
    if (cells.length < 5 || !Number.isInteger(index) || total === null) continue;
    gpus.push({
      index,
      uuid: cells[1] || null,
      name: cells[2],
      totalBytes: total * MiB,
      usedBytes: (numberOrNull(cells[4]) ?? 0) * MiB,
      utilPercent: numberOrNull(cells[5]),
      memoryUtilPercent: numberOrNull(cells[6]),
      temperatureCelsius: numberOrNull(cells[7]),
      powerWatts: numberOrNull(cells[8]),
      fanPercent: numberOrNull(cells[9]),
    });
  }
  return gpus;
}

/** Rows of `nvidia-smi --query-compute-apps=gpu_uuid,pid,used_memory`: bytes per pid per GPU uuid. */
export function parseNvidiaApps(csv: string): Array<{ uuid: string; pid: number; bytes: number }> {
  const apps: Array<{ uuid: string; pid: number; bytes: number }> = [];
  for (const line of csv.split("\n")) {
    const [uuid, pid, used] = line.split(",").map((cell) => cell.trim());
    const bytes = numberOrNull(used);
    if (!uuid || !Number.isInteger(Number(pid)) || bytes === null) continue;
    apps.push({ uuid, pid: Number(pid), bytes: bytes * MiB });
  }
  return apps;
}

/** A JSON object from a tool, or null when it printed something else. */
function jsonObject(text: string): Record<string, unknown> | null {
  try {
    const value = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value) ? value : null;
  } catch {
    return null;
  }
}

/** The first value whose key matches `pattern`, as a number. */
function field(card: Record<string, unknown>, pattern: RegExp): number | null {
  const key = Object.keys(card).find((name) => pattern.test(name));
  return key === undefined ? null : numberOrNull(String(card[key]));
}

/** `rocm-smi --showmeminfo vram --showuse … --json`: `{"card0": {"VRAM Total Memory (B)": "…", …}}`. */
export function parseRocmGpus(json: string): GpuReading[] {
  const gpus: GpuReading[] = [];
  for (const [key, value] of Object.entries(jsonObject(json) ?? {})) {
    const card = /^card(\d+)$/.exec(key);
    if (!card || typeof value !== "object" || value === null) continue;
    const fields = value as Record<string, unknown>;
    const total = field(fields, /^VRAM Total Memory \(B\)$/i);
    if (total === null) continue;
    const nameKey = Object.keys(fields).find((name) => /^card (series|model)$/i.test(name));
    gpus.push({
      index: Number(card[1]),
      uuid: null,
      name: nameKey ? String(fields[nameKey]) : `AMD GPU ${card[1]}`,
      totalBytes: total,
      usedBytes: field(fields, /^VRAM Total Used Memory \(B\)$/i) ?? 0,
      utilPercent: field(fields, /^GPU use \(%\)$/i),
      memoryUtilPercent: field(fields, /^GPU memory use \(%\)$/i),
      temperatureCelsius: field(fields, /^Temperature \(Sensor (edge|junction)\) \(C\)$/i),
      powerWatts: field(fields, /Graphics Package Power \(W\)$/i),
      fanPercent: field(fields, /^Fan speed \(%\)$/i),
    });
  }
  return gpus.sort((a, b) => a.index - b.index);
}

/** `rocm-smi --showpids --json`: `{"system": {"PID123": "name, gpus, vram bytes, sdma, cu"}}` → VRAM bytes per pid. */
export function parseRocmApps(json: string): Map<number, number> {
  const apps = new Map<number, number>();
  const system = jsonObject(json)?.system;
  if (typeof system !== "object" || system === null) return apps;
  for (const [key, value] of Object.entries(system)) {
    const pid = /^PID(\d+)$/i.exec(key);
    const vram = numberOrNull(String(value).split(",")[2]);
    if (pid && vram !== null) apps.set(Number(pid[1]), vram);
  }
  return apps;
}

/** A `Name:   N kB` field of a /proc file (meminfo, status), in bytes, or null. */
/** A `/proc/meminfo` field (given in kB) in bytes, or null when it is absent. */
export function kibField(text: string, name: string): number | null {
  const match = new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(text);
  return match ? Number(match[1]) * 1024 : null;
}

/** MemTotal and MemAvailable of `/proc/meminfo`, in bytes. */
export function parseMeminfo(text: string): { totalBytes: number; availableBytes: number } | null {
  const total = kibField(text, "MemTotal");
  if (total === null) return null;
  return { totalBytes: total, availableBytes: kibField(text, "MemAvailable") ?? kibField(text, "MemFree") ?? 0 };
}

/** The `cpu` line of /proc/stat (all CPUs together), or null. */
export function parseCpuTicks(text: string): CpuTicks | null {
  const line = /^cpu +([\d ]+)$/m.exec(text);
  return line ? lineTicks(line[1]) : null;
}

/** Each CPU's line of /proc/stat (`cpu0`, `cpu1` …), in order. */
export function parseCoreTicks(text: string): CpuTicks[] {
  return [...text.matchAll(/^cpu\d+ +([\d ]+)$/gm)].flatMap((line) => lineTicks(line[1]) ?? []);
}

/** One /proc/stat CPU line's counters (user nice system idle iowait irq softirq steal …): idle and iowait count as not busy. */
function lineTicks(counters: string): CpuTicks | null {
  const fields = counters.trim().split(/\s+/).map(Number);
  if (fields.length < 4) return null;
  // guest and guest_nice (fields 9 and 10) are already counted in user and nice.
  const total = fields.slice(0, 8).reduce((sum, ticks) => sum + ticks, 0);
  return { busy: total - fields[3] - (fields[4] ?? 0), total };
}

/** Percent of CPU time busy between two readings, or null without two. */
export function cpuPercent(before: CpuTicks | null, after: CpuTicks | null): number | null {
  if (!before || !after || after.total <= before.total) return null;
  return Math.round(((after.busy - before.busy) / (after.total - before.total)) * 1000) / 10;
}

/** Reads the machine's and process groups' memory, remembering which GPU tool is installed. */
export class MemoryProbe {
  readonly #runtime: Runtime;
  /** undefined until a tool answered or both were found missing. */
  #vendor: "nvidia" | "amd" | null | undefined = undefined;

  constructor(runtime: Runtime) {
    this.#runtime = runtime;
  }

  /** The GPU tool found so far: undefined before the first reading, null when there is none. */
  get vendor(): "nvidia" | "amd" | null | undefined {
    return this.#vendor;
  }

  /** Every GPU and the RAM now. A tool that fails this time gives no GPUs this time. */
  async system(): Promise<SystemReading> {
    const [gpus, ram, cpu] = await Promise.all([this.#gpus(), this.#meminfo(), this.#cpuTicks()]);
    return { vendor: this.#vendor ?? null, gpus, ram, cpu };
  }

  /** What the process group `pgid` uses now: its resident memory and its GPU memory. */
  async group(pgid: number): Promise<GroupReading> {
    const pids = await this.#groupPids(pgid);
    const rss = await Promise.all(pids.map((pid) => this.#rss(pid)));
    const reading: GroupReading = {
      pids,
      rssBytes: rss.reduce((sum, bytes) => sum + bytes.rss, 0),
      anonBytes: rss.reduce((sum, bytes) => sum + bytes.anon, 0),
      gpuBytes: new Map(),
      unplacedGpuBytes: 0,
    };
    if (pids.length === 0) return reading;
    const members = new Set(pids);
    if (this.#vendor === "nvidia") {
      const [gpus, apps] = await Promise.all([this.#run(NVIDIA_GPU_QUERY), this.#run(NVIDIA_APPS_QUERY)]);
      if (gpus === null || apps === null) return reading;
      const indexOf = new Map(parseNvidiaGpus(gpus).map((gpu) => [gpu.uuid, gpu.index]));
      for (const app of parseNvidiaApps(apps)) {
        const index = indexOf.get(app.uuid);
        if (!members.has(app.pid) || index === undefined) continue;
        reading.gpuBytes.set(index, (reading.gpuBytes.get(index) ?? 0) + app.bytes);
      }
    } else if (this.#vendor === "amd") {
      const apps = await this.#run(ROCM_APPS_QUERY);
      for (const [pid, bytes] of apps === null ? [] : parseRocmApps(apps)) {
        if (members.has(pid)) reading.unplacedGpuBytes += bytes;
      }
    }
    return reading;
  }

  async #gpus(): Promise<GpuReading[]> {
    if (this.#vendor === null) return [];
    if (this.#vendor !== "amd") {
      const nvidia = await runTool(this.#runtime, NVIDIA_GPU_QUERY);
      if (nvidia.kind === "ok") {
        this.#vendor = "nvidia";
        return parseNvidiaGpus(nvidia.stdout);
      }
      if (nvidia.kind === "failed" || this.#vendor === "nvidia") return [];
    }
    const rocm = await runTool(this.#runtime, ROCM_GPU_QUERY);
    if (rocm.kind === "ok") {
      this.#vendor = "amd";
      return parseRocmGpus(rocm.stdout);
    }
    if (rocm.kind === "missing") this.#vendor = null;
    return [];
  }

  /** A tool's output, or null when it failed. */
  async #run(argv: string[]): Promise<string | null> {
    const result = await runTool(this.#runtime, argv);
    return result.kind === "ok" ? result.stdout : null;
  }

  async #meminfo(): Promise<SystemReading["ram"]> {
    try {
      return parseMeminfo(await this.#runtime.readTextFile("/proc/meminfo"));
    } catch {
      return null;
    }
  }

  async #cpuTicks(): Promise<CpuTicks | null> {
    try {
      return parseCpuTicks(await this.#runtime.readTextFile("/proc/stat"));
    } catch {
      return null;
    }
  }

  /** Every process whose process group is `pgid`, found by walking /proc/*\/stat. */
  async #groupPids(pgid: number): Promise<number[]> {
    let entries: string[];
    try {
      entries = (await this.#runtime.readDir("/proc")).filter((name) => /^\d+$/.test(name)).slice(0, MAX_PROC_ENTRIES);
    } catch {
      return [];
    }
    const pids: number[] = [];
    for (let i = 0; i < entries.length; i += PROC_BATCH) {
      const stats = await Promise.all(entries.slice(i, i + PROC_BATCH).map((pid) => this.#stat(pid)));
      for (const stat of stats) if (stat && stat.pgid === pgid && stat.state !== "Z") pids.push(stat.pid);
    }
    return pids.sort((a, b) => a - b);
  }

  async #stat(pid: string) {
    try {
      return parseProcStat(await this.#runtime.readTextFile(`/proc/${pid}/stat`));
    } catch {
      return null; // gone meanwhile
    }
  }

  /** VmRSS of one process and its anonymous and shared-memory part, in bytes (0 when it is gone). */
  async #rss(pid: number): Promise<{ rss: number; anon: number }> {
    try {
      const status = await this.#runtime.readTextFile(`/proc/${pid}/status`);
      const rss = kibField(status, "VmRSS") ?? 0;
      const anon = kibField(status, "RssAnon");
      return { rss, anon: anon === null ? rss : anon + (kibField(status, "RssShmem") ?? 0) };
    } catch {
      return { rss: 0, anon: 0 };
    }
  }
}
