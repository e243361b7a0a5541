/**
 * `npm run bench`: every benchmark in turn, each printing its own table.
 * Benchmarks report ratios against a direct connection measured in the same
 * run; none of them asserts a wall-clock limit.
 */
import { detectRuntime } from "../src/runtime/detect.ts";

const runtime = await detectRuntime();
const benches = ["proxy.ts", "llama.ts", "scheduler.ts", "context.ts", "footprint.ts", "soak.ts"];
const exec = runtime.selfArgv[0];
for (const bench of benches) {
  const path = new URL(bench, import.meta.url).pathname;
  if (!(await runtime.stat(path))) continue;
  console.log(`\n## bench/${bench}\n`);
  const argv = runtime.name === "deno" ? [exec, "run", "-A", path] : [exec, path];
  const args = bench === "soak.ts" ? ["--seconds", "60"] : [];
  const status = await runtime.spawn({ argv: [...argv, ...args], output: "inherit" }).exited;
  if (status.code !== 0) {
    console.error(`bench/${bench} failed: ${JSON.stringify(status)}`);
    runtime.exit(1);
  }
}
