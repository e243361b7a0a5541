/**
 * How one model's server is run: the argv, the environment, where it
 * listens, how it is checked and stopped, and what it does around its start
 * and stop. A config reload compares specs to know which models changed.
 */
import type { LifecycleSpec } from "./lifecycle.ts";

/** Liveness and crash-loop limits (from the config's `supervision` block). */
export interface SupervisionSpec {
  maxFailures: number;
  failureWindowMs: number;
  /** 0 disables hang detection. */
  probeIntervalMs: number;
  probeTimeoutMs: number;
  hungAfter: number;
}

/** Everything needed to run one model's server. */
export interface UpstreamSpec {
  id: string;
  /** Program and arguments, already split. */
  argv: string[];
  /** Stop command argv with `${PID}` still in place, or null for SIGTERM. */
  stopArgv: string[] | null;
  env: Record<string, string>;
  /** Base URL requests are forwarded to, e.g. `http://127.0.0.1:5800`. */
  baseUrl: string;
  /** The `${PORT}` assigned to this model (null when its cmd does not use one). */
  port: number | null;
  /** Path polled for HTTP 200, or null to be ready as soon as spawned. */
  checkEndpoint: string | null;
  healthCheckTimeoutMs: number;
  unloadTimeoutMs: number;
  supervision: SupervisionSpec;
  /** Context saved and restored, hooks run, around each start and planned stop. */
  lifecycle: LifecycleSpec;
}

/** Do two specs run the model the same way? */
export function sameSpec(a: UpstreamSpec, b: UpstreamSpec): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
