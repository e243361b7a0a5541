/**
 * Hardware over time: `/api/hardware` is read every few seconds while the
 * dashboard is open and visible (the server samples on demand and reuses a
 * reading for a few seconds, so an open tab costs one nvidia-smi run per
 * interval at most), and the dashboard keeps the history itself.
 */
import { getJson, type HardwareInfo } from "../api.ts";
import { Store } from "./store.ts";

/** Seconds between readings. */
export const HARDWARE_INTERVAL_MS = 5000;
/** Wait before the reading asked for by {@link HardwareHistory.refreshSoon}, so a burst of changes costs one. */
const REFRESH_DELAY_MS = 500;
/** Readings kept: one hour at the interval. */
const MAX_SAMPLES = 720;

/** One reading, on the page's clock. */
export interface HardwareSample {
  at: number;
  info: HardwareInfo;
}

/** Whether the server has a hardware view at all. */
export type HardwareAvailability = "unknown" | "yes" | "no";

/** The polled hardware readings. */
export class HardwareHistory {
  readonly samples = new Store<HardwareSample[]>([]);
  readonly availability = new Store<HardwareAvailability>("unknown");
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;
  #polling = false;
  #again = false;

  /** Start polling (now, then every interval while the page is visible). */
  start(): void {
    this.#stopped = false;
    void this.#poll();
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible" && !this.#stopped) {
        clearTimeout(this.#timer);
        void this.#poll();
      }
    });
  }

  /** Read again shortly (a model started or stopped: which model holds what changed), then on the usual interval. */
  refreshSoon(): void {
    if (this.#stopped || this.availability.value === "no") return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#poll(), REFRESH_DELAY_MS);
  }

  /** Stop polling. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  async #poll(): Promise<void> {
    // One reading at a time: a poll asked for meanwhile runs right after it.
    if (this.#polling) {
      this.#again = true;
      return;
    }
    this.#polling = true;
    clearTimeout(this.#timer);
    try {
      const info = await getJson<HardwareInfo>("/api/hardware");
      this.availability.set("yes");
      this.samples.update((list) => [...list.slice(-(MAX_SAMPLES - 1)), { at: Date.now(), info }]);
    } catch (error) {
      // 503: this server has no hardware monitor; other failures are retried.
      if ((error as { status?: number }).status === 503) {
        this.availability.set("no");
        return;
      }
    } finally {
      this.#polling = false;
    }
    if (this.#stopped || document.visibilityState !== "visible") return;
    this.#timer = setTimeout(() => void this.#poll(), this.#again ? 0 : HARDWARE_INTERVAL_MS);
    this.#again = false;
  }
}
