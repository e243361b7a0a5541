/**
 * The memory figures the HTTP layer shows (`/api/hardware`, `/api/status`,
 * `/running`, the GPU gauges on `/metrics`), as plain data. The memory
 * monitor provides them; the routes only read.
 */

/** Bytes per device name (`gpu0`, …, `ram`). */
export type DeviceBytes = Record<string, number>;

/** One model's memory: what its config says and what it was measured to use. */
export interface ModelMemoryInfo {
  /** Declared bytes per device, "auto" (measured), or null (no memory key: it runs alone). */
  declared: DeviceBytes | "auto" | null;
  /** What the planner counts for it now (declared, or measured for auto), or null while it runs alone. */
  planned: DeviceBytes | null;
  /** Its last measurement (bytes per device), or null. */
  measured: DeviceBytes | null;
  /** When it was measured (ISO 8601), or null. */
  measuredAt: string | null;
  /** The GPUs it was started on (`gpus: N`), or null. */
  gpus: string[] | null;
}

/** One budgeted device as the planner sees it. */
export interface DeviceMemoryInfo {
  name: string;
  /** Budget in bytes, or null while an auto budget's total is unknown. */
  budget: number | null;
  /** What the running models take by the planner's count. */
  planned: number;
  /** budget - planned (null when the budget is unknown). */
  free: number | null;
  /** Total the system reported last, or null. */
  total: number | null;
}

/** One device of `/api/hardware`. */
export interface HardwareDevice {
  name: string;
  kind: "gpu" | "ram";
  /** GPU index (null for ram). */
  index: number | null;
  /** Product name (GPUs). */
  product: string | null;
  totalBytes: number | null;
  usedBytes: number | null;
  freeBytes: number | null;
  /** GPU utilisation; for `ram`, the host's CPU use since the previous reading. */
  utilPercent: number | null;
  temperatureCelsius: number | null;
  powerWatts: number | null;
  /** The planner's budget and count (memory policy only). */
  budgetBytes: number | null;
  plannedBytes: number | null;
  /** Which running model holds what here: planned by the policy, measured after load. */
  models: Array<{ model: string; plannedBytes: number | null; measuredBytes: number | null }>;
}

/** `GET /api/hardware`. */
export interface HardwareInfo {
  /** The GPU tool that answered (`nvidia`, `amd`), or null (RAM only). */
  vendor: "nvidia" | "amd" | null;
  /** When the devices were read (ISO 8601). */
  sampledAt: string;
  /** True when the memory planner is in use (budgets and planned figures apply). */
  planning: boolean;
  devices: HardwareDevice[];
}

/** What the HTTP layer asks of the memory monitor. */
export interface MemoryView {
  /** Is the memory planner in use? Status views add memory fields only then. */
  planning(): boolean;
  /** A model's declared and measured memory (memory planner only), or null. */
  model(id: string): ModelMemoryInfo | null;
  /** Budget, planned and free memory per device (memory planner only; [] otherwise). */
  devices(): DeviceMemoryInfo[];
  /** The devices now: sampled when the last reading is older than a few seconds. */
  hardware(): Promise<HardwareInfo>;
  /** Make the readings behind the GPU gauges fresh (before a scrape renders them). */
  refresh(): Promise<void>;
}
