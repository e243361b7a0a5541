/**
 * llama-swap's performance monitor: samples of CPU per core, RAM, swap, load,
 * network and GPUs, read from fake `/proc` files, kept for an hour, filtered
 * by `after`.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseNetDev, PerformanceMonitor } from "../../src/observability/performance.ts";
import { type GpuReading, parseCoreTicks } from "../../src/upstream/memory-probe.ts";

const MEMINFO = "MemTotal:       16384000 kB\nMemFree:         1024000 kB\nMemAvailable:    4096000 kB\nSwapTotal:       2048000 kB\nSwapFree:        1024000 kB\n";
const NETDEV = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0
  eth0: 5000000    4000    0    0    0     0          0         0   700000    3000    0    0    0     0       0          0
`;
/** /proc/stat with two cores whose counters grow by `busy` of every 100 ticks. */
function procStat(ticks: number, busy: [number, number]): string {
  const line = (name: string, b: number) => `${name} ${ticks * b} 0 0 ${ticks * (100 - b)} 0 0 0 0 0 0`;
  return `cpu  0 0 0 0 0 0 0 0 0 0\n${line("cpu0", busy[0])}\n${line("cpu1", busy[1])}\nintr 1 2 3\n`;
}

const GPU: GpuReading = {
  index: 0, uuid: "GPU-1", name: "Fake GPU", totalBytes: 24 * 1024 ** 3, usedBytes: 6 * 1024 ** 3,
  utilPercent: 40, memoryUtilPercent: null, temperatureCelsius: 61, powerWatts: 120.5, fanPercent: null,
};

function monitor(stat: () => string, everyMs = 5000) {
  return new PerformanceMonitor({
    proc: (path) => Promise.resolve(({ "/proc/stat": stat(), "/proc/meminfo": MEMINFO, "/proc/loadavg": "0.52 0.48 0.30 2/345 6789\n", "/proc/net/dev": NETDEV } as Record<string, string>)[path] ?? null),
    gpus: () => Promise.resolve([GPU]),
  }, everyMs);
}

describe("performance monitor", () => {
  test("a sample in llama-swap's fields: CPU use per core since the last one, RAM, swap, load, network, GPUs", async () => {
    let round = 1;
    const perf = monitor(() => procStat(round, round === 1 ? [50, 50] : [25, 75]));
    await perf.sample();
    round = 2;
    await perf.sample();
    const { sys_stats, gpu_stats } = perf.current();
    assert.equal(sys_stats.length, 2);
    const last = sys_stats[1];
    // Between the two samples core 0 gained 100 ticks, none busy; core 1 gained 100, all busy.
    assert.deepEqual(last.cpu_util_per_core, [0, 100]);
    assert.equal(last.mem_total_mb, 16000);
    assert.equal(last.mem_free_mb, 4000);
    assert.equal(last.mem_used_mb, 12000);
    assert.deepEqual([last.swap_total_mb, last.swap_used_mb], [2000, 1000]);
    assert.deepEqual([last.load_avg_1, last.load_avg_5, last.load_avg_15], [0.52, 0.48, 0.3]);
    assert.deepEqual(last.net_io, [{ name: "lo", bytes_recv: 1000, bytes_sent: 1000 }, { name: "eth0", bytes_recv: 5000000, bytes_sent: 700000 }]);
    assert.ok(!Number.isNaN(Date.parse(last.timestamp)));
    assert.equal(gpu_stats.length, 2);
    assert.deepEqual({ ...gpu_stats[1], timestamp: "" }, {
      timestamp: "", id: 0, name: "Fake GPU", uuid: "GPU-1", temp_c: 61, vram_temp_c: 0, gpu_util_pct: 40, mem_util_pct: 0,
      mem_used_mb: 6144, mem_total_mb: 24576, fan_speed_pct: 0, power_draw_w: 120.5,
    });
  });

  test("after= keeps only later samples; the ring keeps one hour of them", async () => {
    const perf = monitor(() => procStat(1, [10, 10]), 600_000);
    for (let i = 0; i < 8; i++) await perf.sample();
    const { sys_stats } = perf.current();
    assert.equal(sys_stats.length, 6, "an hour at one sample per 10 minutes");
    assert.deepEqual(perf.current(Date.parse(sys_stats[5].timestamp)).sys_stats, []);
    assert.equal(perf.current(Date.parse(sys_stats[0].timestamp) - 1).sys_stats.length, 6);
  });

  test("no /proc and no GPU tool: empty figures, never an error", async () => {
    const perf = new PerformanceMonitor({ proc: () => Promise.reject(new Error("ENOENT")), gpus: () => Promise.reject(new Error("no tool")) }, 5000);
    await perf.sample();
    const [stat] = perf.current().sys_stats;
    assert.deepEqual(stat.cpu_util_per_core, []);
    assert.equal(stat.mem_total_mb, 0);
    assert.deepEqual(perf.current().gpu_stats, []);
  });

  test("parsers: per-core ticks skip the all-CPU line; /proc/net/dev rows by interface", () => {
    assert.deepEqual(parseCoreTicks(procStat(1, [30, 60])), [{ busy: 30, total: 100 }, { busy: 60, total: 100 }]);
    assert.deepEqual(parseNetDev(NETDEV).map((row) => row.name), ["lo", "eth0"]);
  });
});
