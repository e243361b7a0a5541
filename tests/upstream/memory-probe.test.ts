/**
 * Reading memory figures: the output formats of nvidia-smi and rocm-smi
 * (including their "[N/A]" holes), /proc/meminfo, the CPU use from two
 * readings of /proc/stat, running a tool with a
 * timeout, and the resident memory of a real process group.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  cpuPercent,
  MemoryProbe,
  parseCpuTicks,
  parseMeminfo,
  parseNvidiaApps,
  parseNvidiaGpus,
  parseRocmApps,
  parseRocmGpus,
  runTool,
} from "../../src/upstream/memory-probe.ts";
import { runtime, waitFor } from "../helpers/process.ts";

const MiB = 1024 * 1024;

describe("tool output", () => {
  test("nvidia-smi --query-gpu rows, N/A fields as null, junk lines skipped", () => {
    const csv = [
      "0, GPU-11aa, NVIDIA GeForce RTX 4090, 24564, 1200, 37, 12, 45, 61.20, 30",
      "1, GPU-22bb, NVIDIA GeForce RTX 3090, 24576, 0, 0, [N/A], 38, [N/A], [Not Supported]",
      "No devices were found",
      "",
    ].join("\n");
    assert.deepEqual(parseNvidiaGpus(csv), [
      {
        index: 0,
        uuid: "GPU-11aa",
        name: "NVIDIA GeForce RTX 4090",
        totalBytes: 24564 * MiB,
        usedBytes: 1200 * MiB,
        utilPercent: 37,
        memoryUtilPercent: 12,
        temperatureCelsius: 45,
        powerWatts: 61.2,
        fanPercent: 30,
      },
      {
        index: 1,
        uuid: "GPU-22bb",
        name: "NVIDIA GeForce RTX 3090",
        totalBytes: 24576 * MiB,
        usedBytes: 0,
        utilPercent: 0,
        memoryUtilPercent: null,
        temperatureCelsius: 38,
        powerWatts: null,
        fanPercent: null,
      },
    ]);
  });

  test("nvidia-smi --query-compute-apps rows", () => {
    assert.deepEqual(parseNvidiaApps("GPU-11aa, 4242, 18000\nGPU-22bb, 4243, [N/A]\nGPU-22bb, 77, 512\n"), [
      { uuid: "GPU-11aa", pid: 4242, bytes: 18000 * MiB },
      { uuid: "GPU-22bb", pid: 77, bytes: 512 * MiB },
    ]);
  });

  test("rocm-smi --json GPU and process output", () => {
    const gpus = JSON.stringify({
      card1: { "VRAM Total Memory (B)": "17163091968", "VRAM Total Used Memory (B)": "1000", "GPU use (%)": "4", "Temperature (Sensor edge) (C)": "40.0", "Card Series": "Radeon RX 7900" },
      card0: { "VRAM Total Memory (B)": "34342961152", "VRAM Total Used Memory (B)": "7028736", "Current Socket Graphics Package Power (W)": "33.0" },
      system: { "Driver version": "6.8" },
    });
    const parsed = parseRocmGpus(gpus);
    assert.deepEqual(parsed.map((gpu) => [gpu.index, gpu.totalBytes, gpu.usedBytes, gpu.name]), [
      [0, 34342961152, 7028736, "AMD GPU 0"],
      [1, 17163091968, 1000, "Radeon RX 7900"],
    ]);
    assert.equal(parsed[0].powerWatts, 33);
    assert.equal(parsed[1].temperatureCelsius, 40);
    assert.equal(parsed[1].utilPercent, 4);
    assert.deepEqual(parseRocmGpus("not json"), []);
    const apps = parseRocmApps(JSON.stringify({ system: { PID4242: "llama-server, 1, 2147483648, 0, 100", PID9: "x, 1, UNKNOWN, 0, 0" } }));
    assert.deepEqual([...apps], [[4242, 2147483648]]);
  });

  test("/proc/meminfo: total and available", () => {
    assert.deepEqual(parseMeminfo("MemTotal:       16384000 kB\nMemFree:  100 kB\nMemAvailable:    8192000 kB\n"), {
      totalBytes: 16384000 * 1024,
      availableBytes: 8192000 * 1024,
    });
    assert.equal(parseMeminfo("garbage"), null);
  });

  test("/proc/stat: the CPUs' busy share between two readings (idle and iowait are not busy)", () => {
    // user nice system idle iowait irq softirq steal guest guest_nice
    const before = parseCpuTicks("cpu  100 0 50 800 50 0 0 0 10 0\ncpu0 50 0 25 400 25 0 0 0 5 0\nintr 1\n");
    assert.deepEqual(before, { busy: 150, total: 1000 });
    const after = parseCpuTicks("cpu  400 0 50 1300 50 0 0 0 10 0\n");
    assert.equal(cpuPercent(before, after), 37.5, "300 busy of 800 ticks");
    assert.equal(cpuPercent(null, after), null, "one reading says nothing about now");
    assert.equal(cpuPercent(after, after), null);
    assert.equal(parseCpuTicks("garbage"), null);
  });
});

describe("running tools", () => {
  test("a tool that is not installed is missing; one that fails says how; one that hangs is killed", async () => {
    assert.deepEqual(await runTool(runtime, ["modelswap-no-such-tool-xyz"]), { kind: "missing" });
    assert.deepEqual(await runTool(runtime, ["/bin/sh", "-c", "echo hi"]), { kind: "ok", stdout: "hi\n" });
    assert.deepEqual(await runTool(runtime, ["/bin/sh", "-c", "exit 9"]), { kind: "failed", reason: "/bin/sh exited with code 9" });
    const started = Date.now();
    const hung = await runTool(runtime, ["/bin/sh", "-c", "sleep 30"], 300);
    assert.deepEqual(hung, { kind: "failed", reason: "/bin/sh did not answer within 0.3s" });
    assert.ok(Date.now() - started < 5000, "killed at its timeout");
  });

  test("a process group's resident memory is the sum over its processes", async () => {
    const leader = runtime.spawn({ argv: ["/bin/sh", "-c", "sleep 30 & sleep 30 & wait"], newProcessGroup: true, output: "null" });
    try {
      const probe = new MemoryProbe(runtime);
      // The two sleeps appear a moment after the shell: no event says when.
      const reading = await waitFor(async () => {
        const now = await probe.group(leader.pid);
        return now.pids.length === 3 && now;
      }, { what: "the shell and its two sleeps" });
      assert.equal(reading.pids.length, 3, "the shell and its two sleeps");
      assert.ok(reading.pids.includes(leader.pid));
      assert.ok(reading.rssBytes > 100 * 1024, `rss ${reading.rssBytes}`);
      assert.ok(reading.anonBytes > 0 && reading.anonBytes < reading.rssBytes, `anon ${reading.anonBytes} of ${reading.rssBytes}: the shared library pages are file pages`);
      assert.equal(reading.gpuBytes.size, 0);
    } finally {
      runtime.killGroup(leader.pid, "SIGKILL");
      await leader.exited;
    }
    // The killed sleeps vanish a moment after their leader is reaped: no event says when.
    await waitFor(async () => (await new MemoryProbe(runtime).group(leader.pid)).pids.length === 0, { what: "nothing left to measure" });
  });
});
