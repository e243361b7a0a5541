/**
 * The memory planner end to end, with demo upstreams and a fake
 * `nvidia-smi` first on the router's PATH (tests/helpers/fake-nvidia-smi.ts):
 * models that fit run together and the least recently used makes room,
 * measurement after load (and the warning when a declared figure is too
 * low), `gpus: N` on the freest GPU through CUDA_VISIBLE_DEVICES,
 * `/api/hardware`, the GPU gauges sampled only when asked, `memory: auto`
 * using the measurement across a restart, and a machine without the tool.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { fakeNvidiaSmi, type FakeSmiState } from "../helpers/fake-nvidia-smi.ts";
import { parseExposition, promtoolCheck, promtoolMissing, sampleValue } from "../observability/exposition.ts";
import { chat, demoCmd, eventually, postJson, type RouterProcess, runtime, startRouter } from "./harness.ts";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** A temp dir with a fake nvidia-smi reading `state`, and the env that puts it first on PATH. */
function fakeGpuMachine(state: FakeSmiState): { env: Record<string, string>; calls: () => string[]; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), "modelswap-memory-"));
  const stateFile = join(dir, "smi.json");
  writeFileSync(stateFile, JSON.stringify(state));
  fakeNvidiaSmi(dir, stateFile);
  return {
    dir,
    env: { PATH: `${dir}:${runtime.env("PATH") ?? "/usr/bin:/bin"}`, XDG_STATE_HOME: join(dir, "state") },
    calls: () => {
      try {
        return readFileSync(`${stateFile}.calls`, "utf8").trim().split("\n").filter(Boolean);
      } catch {
        return [];
      }
    },
  };
}

/** Ask a model for a chat answer; it must succeed. */
async function ask(router: RouterProcess, model: string): Promise<void> {
  const response = await postJson(`${router.url}/v1/chat/completions`, chat(model));
  const body = await response.text();
  assert.equal(response.status, 200, `${model}: ${body}`);
}

interface RunningEntry {
  model: string;
  memory?: { declared: unknown; planned: Record<string, number> | null; measured: Record<string, number> | null; gpus: string[] | null };
}

async function running(router: RouterProcess): Promise<{ running: RunningEntry[]; devices?: Array<{ name: string; budget: number; planned: number; free: number }> }> {
  return await (await fetch(`${router.url}/running`)).json();
}

async function runningModels(router: RouterProcess): Promise<string[]> {
  return (await running(router)).running.map((entry) => entry.model).sort();
}

/** A unique tag per test run, so the fake tool never mistakes another suite's demo upstream for ours. */
const tag = `mem${Math.floor(Math.random() * 1e9)}`;
const model = (name: string) => demoCmd(`--model ${tag}-${name}`);

describe("memory planner end to end", () => {
  test("whatever fits runs together; measured after load; a low declared figure warns once; gpus: 1 gets the freest GPU", async () => {
    const machine = fakeGpuMachine({
      gpus: [
        { index: 0, uuid: "GPU-zero", name: "Fake GPU", totalMiB: 12 * 1024, baseUsedMiB: 300, util: 12 },
        { index: 1, uuid: "GPU-one", name: "Fake GPU", totalMiB: 12 * 1024, baseUsedMiB: 100, util: 3 },
      ],
      apps: [
        { match: `--model ${tag}-a `, gpu: 0, usedMiB: 3000 },
        { match: `--model ${tag}-b `, gpu: 0, usedMiB: 4000 },
        { match: `--model ${tag}-c `, gpu: 0, usedMiB: 4500 },
        { match: `--model ${tag}-w `, gpu: 1, usedMiB: 3000 },
        { match: `--model ${tag}-g `, gpu: 1, usedMiB: 1500 },
      ],
    });
    const router = await startRouter(`
routing:
  router:
    use: memory
    settings:
      memory:
        devices: { gpu0: 10GiB, gpu1: 10GiB, ram: auto }
models:
  a: { cmd: "${model("a")} ", memory: { gpu0: 4GiB } }
  b: { cmd: "${model("b")} ", memory: { gpu0: 4GiB } }
  c: { cmd: "${model("c")} ", memory: { gpu0: 5GiB } }
  w: { cmd: "${model("w")} ", memory: { gpu1: 2.4GiB } }
  g: { cmd: "${model("g")} --reply on-gpus-\${GPUS}", memory: 2GiB, gpus: 1 }
`, [], machine.env);
    try {
      await router.waitForOutput(/memory: nvidia-smi reports gpu0 12 GiB, gpu1 12 GiB; ram \d/);
      await ask(router, "a");
      await ask(router, "b");
      assert.deepEqual(await runningModels(router), ["a", "b"], "4 + 4 GiB fit in gpu0's 10 GiB: both stay");
      await router.waitForOutput(/a: measured gpu0 2\.9 GiB, ram [\d.]+ [KM]iB \(1 process\)/);
      await router.waitForOutput(/b: measured gpu0 3\.9 GiB/);

      await ask(router, "a"); // b is now the least recently used
      await ask(router, "c");
      assert.deepEqual(await runningModels(router), ["a", "c"], "c (5 GiB) does not fit beside a and b: b, the least recently used, stopped");
      await router.waitForOutput(/c: loading, stopping b \(memory: c needs gpu0 5 GiB; stopping b \(idle, least recently used\); gpu0 9 GiB\/10 GiB/);

      const status = await running(router);
      const a = status.running.find((entry) => entry.model === "a")!;
      assert.deepEqual(a.memory?.declared, { gpu0: 4 * GiB });
      assert.equal(a.memory?.measured?.gpu0, 3000 * MiB);
      assert.ok((a.memory?.measured?.ram ?? 0) > MiB, "the RSS of its process group was measured");
      assert.deepEqual(status.devices?.find((device) => device.name === "gpu0"), {
        name: "gpu0",
        budget: 10 * GiB,
        planned: 9 * GiB,
        free: GiB,
        total: 12 * GiB,
      });

      await ask(router, "w");
      await router.waitForOutput(/WARN +w: declares 2\.4 GiB on gpu1 but was measured using 2\.9 GiB \(more than 20% above\)/);
      assert.doesNotMatch(router.output(), /[abc]: declares/, "declared figures at or above the measured ones do not warn");
      await fetch(`${router.url}/api/models/unload/w`, { method: "POST" });
      await ask(router, "w");
      await router.waitForOutput(/w: measured gpu1 2\.9 GiB[^\n]*\n[\s\S]*w: measured gpu1 2\.9 GiB/);
      assert.equal(router.output().match(/w: declares/g)?.length, 1, "one warning per model, not one per load");

      const reply = await (await postJson(`${router.url}/v1/chat/completions`, chat("g"))).json();
      assert.equal(reply.choices[0].message.content, "on-gpus-1", "${GPUS} in the command is the GPU the planner chose");
      assert.deepEqual(await runningModels(router), ["a", "c", "g", "w"]);
      const env = await (await fetch(`${router.url}/upstream/g/env?name=CUDA_VISIBLE_DEVICES`)).json();
      assert.deepEqual(env, { name: "CUDA_VISIBLE_DEVICES", value: "1" }, "gpu1 had the most free budget (9 GiB planned on gpu0, 2.4 GiB on gpu1)");
      const named = await (await fetch(`${router.url}/upstream/a/env?name=CUDA_VISIBLE_DEVICES`)).json();
      assert.equal(named.value, "0", "a model naming gpu0 sees only gpu0");
      const g = (await running(router)).running.find((entry) => entry.model === "g")!;
      assert.deepEqual(g.memory?.gpus, ["gpu1"]);
      assert.deepEqual(g.memory?.planned, { gpu1: 2 * GiB });

      await router.waitForOutput(/g: measured gpu1 1\.5 GiB/);
      // Sampled on demand only: nothing runs the tool while nobody asks (a reading is reused for 2 s)...
      const idle = machine.calls().length;
      await new Promise((resolve) => setTimeout(resolve, 2500));
      assert.equal(machine.calls().length, idle, "no background poller");

      // ...a scrape reads them (it waits at most a second for the reading, then renders the last one)...
      await fetch(`${router.url}/metrics`).then((r) => r.text());
      await eventually(() => machine.calls().length === idle + 1, 10_000, "a scrape to run nvidia-smi");
      // ...and requests close together share one reading.
      const hardware = await (await fetch(`${router.url}/api/hardware`)).json();
      const text = await (await fetch(`${router.url}/metrics`)).text();
      assert.equal(machine.calls().length, idle + 1, "one reading for three requests within two seconds");

      assert.equal(hardware.vendor, "nvidia");
      assert.equal(hardware.planning, true);
      const gpu0 = hardware.devices.find((device: { name: string }) => device.name === "gpu0");
      assert.equal(gpu0.totalBytes, 12 * GiB);
      assert.equal(gpu0.usedBytes, (300 + 3000 + 4500) * MiB, "the tool's figure: every process on the GPU");
      assert.equal(gpu0.budgetBytes, 10 * GiB);
      assert.deepEqual(
        gpu0.models.map((entry: { model: string; plannedBytes: number; measuredBytes: number }) => [entry.model, entry.plannedBytes, entry.measuredBytes]),
        [["a", 4 * GiB, 3000 * MiB], ["c", 5 * GiB, 4500 * MiB]],
      );
      assert.ok(hardware.devices.some((device: { name: string; totalBytes: number }) => device.name === "ram" && device.totalBytes > 0));

      const samples = parseExposition(text);
      assert.equal(sampleValue(samples, "llamaswap_gpu_memory_used_bytes", { gpu: "1" }), (100 + 3000 + 1500) * MiB);
      assert.equal(sampleValue(samples, "llamaswap_gpu_memory_total_bytes", { gpu: "0", name: "Fake GPU" }), 12 * GiB);
      assert.equal(sampleValue(samples, "llamaswap_gpu_util_percent", { gpu: "0" }), 12);
      assert.ok((sampleValue(samples, "llamaswap_memory_total_bytes") ?? 0) > 0);
      if (!promtoolMissing()) {
        const check = await promtoolCheck(text);
        assert.equal(check.code, 0, check.output);
      }

      // llama-swap's /api/performance shows the GPUs of the readings taken when someone asked, in its fields.
      const performance = await (await fetch(`${router.url}/api/performance`)).json();
      const gpu = performance.gpu_stats.find((stat: { id: number }) => stat.id === 0);
      assert.deepEqual([gpu.name, gpu.uuid, gpu.mem_total_mb, gpu.gpu_util_pct], ["Fake GPU", "GPU-zero", 12 * 1024, 12]);
    } finally {
      await router.stop();
    }
  });

  test("memory: auto runs alone until measured, then beside others; the measurement survives a restart", async () => {
    const machine = fakeGpuMachine({
      gpus: [{ index: 0, uuid: "GPU-zero", name: "Fake GPU", totalMiB: 12 * 1024 }],
      apps: [{ match: `--model ${tag}-auto `, gpu: 0, usedMiB: 3000 }, { match: `--model ${tag}-big `, gpu: 0, usedMiB: 6000 }],
    });
    const yaml = `
routing:
  router:
    use: memory
    settings:
      memory:
        devices: { gpu0: 10GiB, ram: auto }
models:
  big: { cmd: "${model("big")} ", memory: { gpu0: 6GiB } }
  embed: { cmd: "${model("auto")} ", memory: auto }
`;
    const first = await startRouter(yaml, [], machine.env);
    try {
      await ask(first, "big");
      await ask(first, "embed");
      await first.waitForOutput(/embed: loading, stopping big \(memory: embed needs an unknown amount \(memory: auto\); it is not measured yet/);
      assert.deepEqual(await runningModels(first), ["embed"]);
      await first.waitForOutput(/embed: measured gpu0 2\.9 GiB/);
      await ask(first, "big");
      assert.deepEqual(await runningModels(first), ["big", "embed"], "measured: 2.9 + 6 GiB fit in 10 GiB");
    } finally {
      await first.stop();
    }
    const saved = JSON.parse(readFileSync(join(machine.dir, "state", "modelswap", "memory.json"), "utf8"));
    assert.equal(saved.models.embed.usage.gpu0, 3000 * MiB);

    const second = await startRouter(yaml, [], machine.env);
    try {
      await ask(second, "big");
      await ask(second, "embed");
      await second.waitForOutput(/embed: loading \(memory: embed needs gpu0 2\.9 GiB, ram [\d.]+ [KM]iB; fits beside big/);
      assert.deepEqual(await runningModels(second), ["big", "embed"], "the last measurement was read back at start");
      const embed = (await running(second)).running.find((entry) => entry.model === "embed")!;
      assert.equal(embed.memory?.declared, "auto");
      assert.equal(embed.memory?.planned?.gpu0, 3000 * MiB);
    } finally {
      await second.stop();
    }
  });

  test("without nvidia-smi or rocm-smi: RAM only, said once", async () => {
    const state = mkdtempSync(join(tmpdir(), "modelswap-memory-"));
    const router = await startRouter(`
routing:
  router:
    use: memory
    settings:
      memory:
        devices: { gpu0: auto, ram: auto }
models:
  x: { cmd: "${model("x")}", memory: auto }
`, [], { PATH: "/usr/bin:/bin", XDG_STATE_HOME: state });
    try {
      await ask(router, "x");
      await router.waitForOutput(/x: measured ram [\d.]+ [KM]iB \(1 process\)/);
      const line = /memory: neither nvidia-smi nor rocm-smi was found; measuring RAM only \(ram [\d.]+ GiB; GPU budgets set to auto are not checked\)/g;
      assert.equal(router.output().match(line)?.length, 1);
      const hardware = await (await fetch(`${router.url}/api/hardware`)).json();
      assert.equal(hardware.vendor, null);
      assert.deepEqual(hardware.devices.map((device: { name: string }) => device.name), ["ram", "gpu0"]);
      assert.ok(hardware.devices[0].totalBytes > 0);
      assert.equal(hardware.devices[1].totalBytes, null, "configured but not reported");
      const samples = parseExposition(await (await fetch(`${router.url}/metrics`)).text());
      assert.ok((sampleValue(samples, "llamaswap_memory_free_bytes") ?? 0) > 0);
      assert.equal(samples.filter((sample) => sample.name.startsWith("llamaswap_gpu_")).length, 0);
    } finally {
      await router.stop();
    }
  });
});
