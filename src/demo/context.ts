/**
 * The state one demo upstream shares across its endpoints: its options, the
 * runtime, the clock its startup delay is measured on, and the counter its
 * response ids come from. Built once per app and passed to every route file,
 * so there is no module-level state and tests can build several apps.
 */
import type { Runtime } from "../runtime/runtime.ts";
import type { DemoOptions } from "./flags.ts";

/** What every demo route needs besides its request. */
export interface Demo {
  readonly options: DemoOptions;
  readonly runtime: Runtime;
  /** Milliseconds since the app was built: the clock `--startup-ms` and `--hang-health-after-ms` use. */
  uptimeMs(): number;
  /** True during `--startup-ms`, while a real llama-server would still be loading its model. */
  loading(): boolean;
  /** A response id unique within this process, e.g. `chatcmpl-demo3`. */
  id(prefix: string): string;
  /** The current Unix time in seconds, for `created` fields. */
  now(): number;
  /** What each slot's prompt cache holds: the tokens of the last prompt it evaluated. */
  readonly slots: string[][];
}

/** Slots of every demo upstream, as `/props` reports `total_slots`. */
export const SLOT_COUNT = 4;

/** A fresh {@link Demo} whose clock starts now. */
export function createDemo(options: DemoOptions, runtime: Runtime): Demo {
  const startedAt = Date.now();
  let nextId = 1;
  const uptimeMs = () => Date.now() - startedAt;
  return {
    options,
    runtime,
    uptimeMs,
    loading: () => uptimeMs() < options.startupMs,
    id: (prefix) => `${prefix}-demo${nextId++}`,
    now: () => Math.floor(Date.now() / 1000),
    slots: Array.from({ length: SLOT_COUNT }, () => []),
  };
}
