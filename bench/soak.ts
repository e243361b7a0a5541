/**
 * Soak: the chaos workload (random aborts, random upstream kills) for a long
 * time, reporting requests handled, outcomes by kind, and the router's RSS
 * over time (a leak shows as steady growth).
 *
 *   bun bench/soak.ts [--seconds N]      (also: deno run -A bench/soak.ts)
 *   bun bench/soak.ts --hostile [--seconds N]   hostile neighbours (see hostile.ts)
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { detectRuntime } from "../src/runtime/detect.ts";
import { runChaos } from "../tests/e2e/chaos.ts";
import { runHostile } from "./hostile.ts";

const runtime = await detectRuntime();
const index = runtime.args.indexOf("--seconds");
const seconds = index >= 0 ? Number(runtime.args[index + 1]) : 120;
const samples: string[] = [];

if (runtime.args.includes("--hostile")) {
  const { quiet, hostile } = await runHostile(mkdtempSync(join(tmpdir(), "modelswap-hostile-")), seconds);
  console.log(`hostile neighbours (${runtime.name}, ${seconds} s per run): a flooding upstream, 400 idle connections, 200 stuck subscribers, a 100,000-deep JSON body every 20 ms`);
  console.log("| run | health p99 ms | chat p99 ms | failures | rounds | router RSS max MiB | open fds max |\n| --- | --- | --- | --- | --- | --- | --- |");
  for (const [name, run] of Object.entries({ quiet, hostile })) {
    console.log(`| ${name} | ${run.healthP99Ms.toFixed(1)} | ${run.chatP99Ms.toFixed(1)} | ${run.failures} | ${run.rounds} | ${run.rssMaxMiB.toFixed(0)} | ${run.fdsMax} |`);
  }
  runtime.exit(0);
}

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
