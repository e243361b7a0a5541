/**
 * A stand-in for `nvidia-smi`, for tests on machines without a GPU. It reads
 * the JSON file named by `FAKE_SMI_STATE`:
 *
 *   { "gpus": [{ "index": 0, "uuid": "GPU-0", "name": "Fake", "totalMiB": 24576, "baseUsedMiB": 500, "util": 7 }],
 *     "apps": [{ "match": "--model small", "gpu": 0, "usedMiB": 3000 }] }
 *
 * and answers the two queries modelswap uses: `--query-gpu=<fields>` (the
 * fields in the order asked) and `--query-compute-apps=gpu_uuid,pid,used_memory`,
 * where every live process whose command line contains an app's `match`
 * uses its `usedMiB` on its GPU (and counts in that GPU's memory.used).
 * Each run appends its arguments to `<FAKE_SMI_STATE>.calls`.
 * `fakeNvidiaSmi(dir, stateFile)` writes an executable `nvidia-smi` into `dir`.
 */
import { appendFileSync, chmodSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import process from "node:process";

interface FakeGpu {
  index: number;
  uuid: string;
  name: string;
  totalMiB: number;
  baseUsedMiB?: number;
  util?: number;
}

interface FakeApp {
  match: string;
  gpu: number;
  usedMiB: number;
}

/** The state file's shape. */
export interface FakeSmiState {
  gpus: FakeGpu[];
  apps: FakeApp[];
}

/** Writes `dir/nvidia-smi`, a shell script running this file on the test's runtime with `stateFile`. */
export function fakeNvidiaSmi(dir: string, stateFile: string): string {
  const path = `${dir}/nvidia-smi`;
  const script = decodeURIComponent(new URL(import.meta.url).pathname);
  const runner = "Deno" in globalThis ? [process.execPath, "run", "-A", script] : [process.execPath, script];
  const argv = runner.map((arg) => `'${arg.replaceAll("'", "'\\''")}'`);
  writeFileSync(path, `#!/bin/sh\nFAKE_SMI_STATE='${stateFile}' exec ${argv.join(" ")} "$@"\n`);
  chmodSync(path, 0o755);
  return path;
}

/** Pids of live processes whose command line contains `match`. */
function pidsMatching(match: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, "utf8").replaceAll("\0", " ");
      if (cmdline.includes(match) && !cmdline.includes("fake-nvidia-smi")) pids.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

function main(args: string[]): number {
  const stateFile = process.env.FAKE_SMI_STATE!;
  appendFileSync(`${stateFile}.calls`, `${args.join(" ")}\n`);
  const state = JSON.parse(readFileSync(stateFile, "utf8")) as FakeSmiState;
  const running = state.apps.map((app) => ({ app, pids: pidsMatching(app.match) }));
  const query = args.find((arg) => arg.startsWith("--query-"));
  if (!args.includes("--format=csv,noheader,nounits") || !query) {
    process.stderr.write(`fake nvidia-smi: unsupported arguments ${args.join(" ")}\n`);
    return 2;
  }
  const [kind, fieldList] = query.slice("--query-".length).split("=");
  const fields = fieldList.split(",");
  const lines: string[] = [];
  if (kind === "gpu") {
    for (const gpu of state.gpus) {
      const used = (gpu.baseUsedMiB ?? 0) +
        running.filter(({ app, pids }) => app.gpu === gpu.index && pids.length > 0).reduce((sum, { app, pids }) => sum + app.usedMiB * pids.length, 0);
      const values: Record<string, string> = {
        index: String(gpu.index),
        uuid: gpu.uuid,
        name: gpu.name,
        "memory.total": String(gpu.totalMiB),
        "memory.used": String(used),
        "utilization.gpu": String(gpu.util ?? 0),
        "utilization.memory": "[N/A]",
        "temperature.gpu": "41",
        "power.draw": "[N/A]",
        "fan.speed": "[Not Supported]",
      };
      lines.push(fields.map((field) => values[field] ?? "[N/A]").join(", "));
    }
  } else if (kind === "compute-apps") {
    for (const { app, pids } of running) {
      const uuid = state.gpus.find((gpu) => gpu.index === app.gpu)?.uuid ?? "GPU-unknown";
      for (const pid of pids) {
        const values: Record<string, string> = { gpu_uuid: uuid, pid: String(pid), used_memory: String(app.usedMiB) };
        lines.push(fields.map((field) => values[field] ?? "[N/A]").join(", "));
      }
    }
  } else {
    process.stderr.write(`fake nvidia-smi: unsupported query ${query}\n`);
    return 2;
  }
  process.stdout.write(lines.map((line) => `${line}\n`).join(""));
  return 0;
}

if (process.env.FAKE_SMI_STATE && import.meta.main) process.exit(main(process.argv.slice(2)));
