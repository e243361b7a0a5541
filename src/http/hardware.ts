/**
 * The hardware view: `GET /api/hardware` (devices, totals, free memory,
 * which model holds what), llama-swap's `GET /api/performance` (the last
 * hour of CPU, RAM, swap, load, network and GPU samples; `?after=`), fresh GPU and RAM readings before a `/metrics`
 * scrape renders its gauges, and the memory fields of `/api/status` and
 * `/running`. Readings are taken on demand and reused for a few seconds.
 */
import { Hono } from "hono";
import { ModelswapError } from "../errors.ts";
import type { DeviceMemoryInfo, MemoryView, ModelMemoryInfo } from "../memory/view.ts";
import { timeParam } from "../observability/activity-query.ts";
import type { PerformanceMonitor } from "../observability/performance.ts";

/** What the app gets besides its usual context: the memory and performance monitors, when the server has them. */
export interface HardwareContext {
  memory?: MemoryView;
  /** Absent with `performance.disabled`. */
  performance?: PerformanceMonitor;
}

/** `/api/hardware`, and the fresh readings `/metrics` renders (mount before the observability routes). */
export function hardwareRoutes(ctx: HardwareContext): Hono {
  const app = new Hono();
  app.use("/metrics", async (_c, next) => {
    await ctx.memory?.refresh();
    await next();
  });
  app.get("/api/hardware", async (c) => {
    if (!ctx.memory) throw new ModelswapError(503, "hardware_unavailable", "this modelswap has no hardware monitor");
    return c.json(await ctx.memory.hardware());
  });
  app.get("/api/performance", async (c) => {
    if (!ctx.performance) return c.json({ enabled: false }, 503);
    // Someone is looking: the GPUs are read (at most every few seconds), so the next samples include them.
    await ctx.memory?.refresh();
    const after = timeParam(new URL(c.req.url).searchParams, "after");
    return c.json({ enabled: true, ...ctx.performance.current(after ?? undefined) });
  });
  return app;
}

/** Memory fields for the status views: per model (declared, planned, measured) and per device (free). */
export interface MemoryStatus {
  model(id: string): { memory?: ModelMemoryInfo };
  devices: { devices?: DeviceMemoryInfo[] };
}

/** The memory fields to add to `/api/status` and `/running`; nothing unless the memory planner is in use. */
export function memoryStatus(ctx: HardwareContext): MemoryStatus {
  const memory = ctx.memory;
  if (!memory?.planning()) return { model: () => ({}), devices: {} };
  return {
    model: (id) => {
      const info = memory.model(id);
      return info ? { memory: info } : {};
    },
    devices: { devices: memory.devices() },
  };
}
