/**
 * What the benchmarks share: options, percentiles, a closed-loop load
 * generator, a streaming client that records when each read arrived,
 * direct-versus-router runs that alternate, and pinning (the router and its
 * upstreams on core 0, the load generator on core 1, so that neither steals
 * the other's core).
 */
import { readFileSync } from "node:fs";
import { detectRuntime } from "../src/runtime/detect.ts";

/** The runtime driving the benchmark. */
export const runtime = await detectRuntime();

/** `--name N` from the command line, or `fallback`. */
export function option(name: string, fallback: number): number {
  const index = runtime.args.indexOf(`--${name}`);
  return index >= 0 ? Number(runtime.args[index + 1]) : fallback;
}

/** The value at percentile `p` of ascending `sorted`. */
export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export function median(values: number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50);
}

/** `value` with `digits` decimals, for a table cell. */
export const fixed = (value: number, digits = 2) => value.toFixed(digits);

/** POST a JSON body to `url` and read the whole answer; resolves with the ms it took. */
export async function post(url: string, body: string): Promise<number> {
  const started = performance.now();
  const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body });
  await response.arrayBuffer();
  if (response.status !== 200) throw new Error(`${url}: status ${response.status}`);
  return performance.now() - started;
}

/** One closed-loop load run: requests/s and latency percentiles in ms. */
export interface LoadRun {
  rps: number;
  p50: number;
  p99: number;
}

/** `total` requests from `concurrency` clients that each send the next one when the last is answered. */
export async function load(url: string, body: string, concurrency: number, total: number): Promise<LoadRun> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next++ < total) latencies.push(await post(url, body));
  }));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { rps: total / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

/** One streamed answer: total ms, how many reads it took, its text, and when each read arrived. */
export interface StreamRun {
  ms: number;
  reads: number;
  text: string;
  /** `performance.timeOrigin + performance.now()` at each read, with the read's text. */
  arrivals: { at: number; text: string }[];
}

/** POST `body` and read the answer as it streams. */
export async function stream(url: string, body: string): Promise<StreamRun> {
  const started = performance.now();
  const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body });
  if (response.status !== 200) throw new Error(`${url}: status ${response.status}: ${await response.text()}`);
  const decoder = new TextDecoder();
  const arrivals: StreamRun["arrivals"] = [];
  for await (const chunk of response.body!) {
    arrivals.push({ at: performance.timeOrigin + performance.now(), text: decoder.decode(chunk, { stream: true }) });
  }
  return { ms: performance.now() - started, reads: arrivals.length, text: arrivals.map((a) => a.text).join(""), arrivals };
}

/**
 * Warm both paths up once, then run `measure` on each `runs` times,
 * alternating, so that a noisy moment on a shared machine hits both alike.
 */
export async function alternate<T>(runs: number, direct: () => Promise<T>, router: () => Promise<T>): Promise<{ direct: T[]; router: T[] }> {
  await direct();
  await router();
  const result: { direct: T[]; router: T[] } = { direct: [], router: [] };
  for (let i = 0; i < runs; i++) {
    result.direct.push(await direct());
    result.router.push(await router());
  }
  return result;
}

/** The run with the median `key`. */
export function medianBy<T>(runs: T[], key: (run: T) => number): T {
  return [...runs].sort((a, b) => key(a) - key(b))[Math.floor(runs.length / 2)];
}

/** Pin every thread of `pid` (and so the children it starts later) to `core`; false when taskset is missing. */
export async function pin(pid: number, core: number): Promise<boolean> {
  try {
    const status = await runtime.spawn({ argv: ["taskset", "-a", "-p", "-c", String(core), String(pid)], output: "null" }).exited;
    return status.code === 0;
  } catch {
    return false;
  }
}

/**
 * Pin this process (the load generator) to core 1 and `routerPid` to core 0
 * on a machine with two cores or more; describes the setup for a table's caption.
 */
export async function pinApart(routerPid: number): Promise<string> {
  const pinned = await pin(routerPid, 0) && await pin(runtime.pid, 1);
  return pinned ? "router and upstream pinned to core 0, load generator to core 1" : "not pinned (no taskset or one core)";
}

/** CPU time (user + system) a process has used so far, in ms; NaN without procfs. */
export function cpuMs(pid: number): number {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    // Fields 14 and 15 (utime, stime) in clock ticks of 10 ms.
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return NaN;
  }
}

/**
 * Adds up the CPU time a process spends during the work it wraps: robust
 * where wall-clock figures are not (other work on a shared machine slows a
 * run, but does not add to the router's own CPU time).
 */
export class CpuMeter {
  #ms = 0;
  #units = 0;
  readonly #pid: number;

  constructor(pid: number) {
    this.#pid = pid;
  }

  /** Run `work`, which stands for `units` requests (or streams). */
  async during<T>(units: number, work: () => Promise<T>): Promise<T> {
    const before = cpuMs(this.#pid);
    const result = await work();
    this.#ms += cpuMs(this.#pid) - before;
    this.#units += units;
    return result;
  }

  /** µs of CPU per unit so far, then start again. */
  take(): number {
    const us = (this.#ms * 1000) / this.#units;
    this.#ms = this.#units = 0;
    return us;
  }
}
