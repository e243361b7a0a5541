/**
 * The measurements `memory: auto` relies on, kept in a small JSON file so
 * they survive a restart: `$XDG_STATE_HOME/modelswap/memory.json`, else
 * `~/.local/state/modelswap/memory.json`. Written atomically (a temporary
 * file renamed over the old one); a missing, unreadable or malformed file
 * is an empty one, and anything in it beyond its bounds is ignored.
 */
import type { Runtime } from "../runtime/runtime.ts";
import type { DeviceBytes } from "./view.ts";

/** One model's last measurement. */
export interface Measurement {
  usage: DeviceBytes;
  /** ISO 8601. */
  at: string;
}

/** Largest state file read; a real one is a few KiB. */
const MAX_STATE_BYTES = 1024 * 1024;
/** Models kept in the file. */
const MAX_MODELS = 10_000;
const DEVICE = /^(gpu\d{1,2}|ram)$/;

/** Where the state file lives, or null when neither XDG_STATE_HOME nor HOME is set. */
export function stateFilePath(runtime: Runtime): string | null {
  const base = runtime.env("XDG_STATE_HOME") || (runtime.env("HOME") ? `${runtime.env("HOME")}/.local/state` : "");
  return base ? `${base.replace(/\/+$/, "")}/modelswap/memory.json` : null;
}

/** The measurements in the file (empty when there is none or it cannot be used). */
export async function readMeasurements(runtime: Runtime, path: string): Promise<Record<string, Measurement>> {
  try {
    const info = await runtime.stat(path);
    if (info === null || info.size > MAX_STATE_BYTES) return {};
    const parsed = JSON.parse(await runtime.readTextFile(path)) as { models?: unknown };
    return validMeasurements(parsed?.models);
  } catch {
    return {};
  }
}

/** Only well-formed entries: device names and non-negative byte counts. */
function validMeasurements(models: unknown): Record<string, Measurement> {
  const out: Record<string, Measurement> = {};
  if (typeof models !== "object" || models === null) return out;
  for (const [model, entry] of Object.entries(models).slice(0, MAX_MODELS)) {
    const { usage, at } = (entry ?? {}) as { usage?: unknown; at?: unknown };
    if (typeof usage !== "object" || usage === null || typeof at !== "string") continue;
    const clean: DeviceBytes = {};
    for (const [device, bytes] of Object.entries(usage)) {
      if (DEVICE.test(device) && typeof bytes === "number" && Number.isFinite(bytes) && bytes >= 0) clean[device] = bytes;
    }
    out[model] = { usage: clean, at: at.slice(0, 40) };
  }
  return out;
}

/** Writes the file atomically (its directory is created when missing). */
export async function writeMeasurements(runtime: Runtime, path: string, models: Record<string, Measurement>): Promise<void> {
  await runtime.mkdir(path.slice(0, path.lastIndexOf("/")));
  const temporary = `${path}.${runtime.pid}.tmp`;
  await runtime.writeTextFile(temporary, JSON.stringify({ version: 1, models }, null, 2) + "\n");
  await runtime.rename(temporary, path);
}
