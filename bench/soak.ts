/**
 * Soak: the chaos workload (random aborts, random upstream kills) for a long
 * time, reporting requests handled, outcomes by kind, and the router's RSS
 * over time (a leak shows as steady growth).
 *
 *   bun bench/soak.ts [--seconds N]      (also: deno run -A bench/soak.ts)
 */
import { detectRuntime } from "../src/runtime/detect.ts";
import { runChaos } from "../tests/e2e/chaos.ts";

const runtime = await detectRuntime();
const index = runtime.args.indexOf("--seconds");
const seconds = index >= 0 ? Number(runtime.args[index + 1]) : 120;
const samples: string[] = [];

const report = await runChaos({
  durationMs: seconds * 1000,
  clients: 8,
  killEveryMs: 2000,
  abortRate: 0.1,
  onSample: (elapsed, rss) => {
    if (Math.round(elapsed / 1000) % 10 === 0) samples.push(`| ${Math.round(elapsed / 1000)} | ${rss === null ? "?" : (rss / 1024 / 1024).toFixed(1)} |`);
  },
});
await report.router.stop();

console.log(`soak (${runtime.name}, ${seconds} s, 8 clients, a kill every ~2 s, 10% aborts)`);
console.log(`requests: ${report.requests}, upstream kills: ${report.kills}, slowest request: ${report.slowestMs} ms`);
console.log("| outcome | count |\n| --- | --- |");
for (const [kind, n] of Object.entries(report.outcomes).sort()) console.log(`| ${kind} | ${n} |`);
console.log(`| undocumented | ${report.surprises.length} |`);
console.log("\n| seconds | router RSS MiB |\n| --- | --- |");
for (const line of samples) console.log(line);
for (const surprise of report.surprises.slice(0, 10)) console.log(`surprise: ${surprise}`);
