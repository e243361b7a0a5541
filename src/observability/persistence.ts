/**
 * The seam between observability and a persistent store (`store.path`,
 * src/store/): where activity and captures are kept when they must survive
 * a restart, and the figures `/metrics` shows about it.
 */
import type { ActivityStore } from "./activity.ts";
import type { CaptureStore } from "./captures.ts";

/** How the store's writing goes (for `/metrics`). */
export interface StoreCounters {
  /** Rows and captures waiting to be written. */
  pending: number;
  /** Rows and captures written so far. */
  written: number;
  /** Rows and captures dropped because the disk could not keep up (or the file stayed locked). */
  dropped: number;
  /** Batches that failed to be written (each is tried again). */
  writeErrors: number;
}

/** The bounds a store keeps to, read from the config as it is now (a reload changes them). */
export interface StoreLimits {
  /** Activity rows kept (`store.maxRows`). */
  maxRows: number;
  /** Bytes of captures kept (`captureBuffer` MB). */
  captureBytes: number;
  /** Rows `/api/activity` answers at most (`metricsMaxInMemory`, as without a store). */
  recentRows: number;
}

/** A store that keeps activity and captures beyond the process. */
export interface ObservabilityStore {
  readonly activity: ActivityStore;
  readonly captures: CaptureStore;
  /** Where the store reads its bounds (set once, before the first request). */
  useLimits(limits: () => StoreLimits): void;
  counters(): StoreCounters;
  /** Write what is pending, then close (shutdown). Never throws. */
  close(): void;
}
