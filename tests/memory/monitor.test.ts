/**
 * The memory monitor's part in each start: the GPUs a model gets (the
 * freest for `gpus: N`, the named ones otherwise), passed as
 * CUDA_VISIBLE_DEVICES and `${GPUS}`, recorded in the book and released
 * when it stops; a visible-devices variable the config sets is left alone.
 * And the state file: atomic, bounded, forgiving of junk.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { LogHub, Logger } from "../../src/logging/logger.ts";
import { MemoryMonitor } from "../../src/memory/monitor.ts";
import { readMeasurements, stateFilePath, writeMeasurements } from "../../src/memory/state-file.ts";
import { upstreamSpecs } from "../../src/setup.ts";
import type { UpstreamSpec } from "../../src/upstream/spec.ts";
import { load } from "../config/helpers.ts";
import { runtime } from "../helpers/process.ts";

const CONFIG = `
startPort: 9000
routing:
  router:
    use: memory
    settings:
      memory:
        devices: { gpu0: 24GiB, gpu1: 24GiB, gpu2: 24GiB, ram: 64GiB }
models:
  big: { cmd: "big --port \${PORT}", memory: { gpu0: 20GiB } }
  split: { cmd: "split --port \${PORT}", memory: 8GiB, gpus: 2 }
  named: { cmd: "named --port \${PORT}", memory: { gpu1: 4GiB, gpu2: 4GiB } }
  mine: { cmd: "mine --port \${PORT}", memory: 2GiB, gpus: 1, env: ["CUDA_VISIBLE_DEVICES=7"] }
  plain: { cmd: "plain --port \${PORT}" }
`;

function monitorFor(running: string[] = []) {
  const setup = load(CONFIG);
  const specs = new Map(upstreamSpecs(setup.config).map((spec) => [spec.id, spec]));
  const log = new Logger(new LogHub("none", null).proxy);
  const monitor = new MemoryMonitor({
    runtime,
    log,
    running: () => running,
    envOf: (model) => setup.config.models[model].env,
  });
  monitor.bind(setup.planner);
  const spec = (id: string, extra: string[] = []): UpstreamSpec => ({ ...specs.get(id)!, argv: [...specs.get(id)!.argv, ...extra] });
  return { monitor, spec, hooks: monitor.hooks({}) };
}

describe("memory monitor: each start's GPUs", () => {
  test("gpus: N gets the freest GPUs as CUDA_VISIBLE_DEVICES and ${GPUS}, recorded until it stops", () => {
    const { monitor, spec, hooks } = monitorFor(["big"]);
    const started = hooks.beforeStart(spec("split", ["--tensor-split", "${GPUS}"]));
    assert.equal(started.env.CUDA_VISIBLE_DEVICES, "1,2", "gpu0 holds big's 20 GiB");
    assert.deepEqual(started.argv.slice(-2), ["--tensor-split", "1,2"]);
    assert.deepEqual(monitor.book.placement("split"), ["gpu1", "gpu2"]);
    assert.deepEqual(monitor.model("split")?.gpus, ["gpu1", "gpu2"]);
    hooks.onState("split", "ready", "stopped");
    assert.equal(monitor.book.placement("split"), null);
  });

  test("named GPUs are the visible ones", () => {
    const { spec, hooks } = monitorFor();
    const started = hooks.beforeStart(spec("named", ["${GPUS}"]));
    assert.equal(started.env.CUDA_VISIBLE_DEVICES, "1,2");
    assert.equal(started.argv.at(-1), "1,2");
  });

  test("a visible-devices variable in the model's env is left alone; a model with no memory key is untouched", () => {
    const { monitor, spec, hooks } = monitorFor();
    const mine = hooks.beforeStart(spec("mine"));
    assert.equal(mine.env.CUDA_VISIBLE_DEVICES, "7");
    assert.deepEqual(monitor.book.placement("mine"), ["gpu0"], "still counted on the GPU it was given");
    const plain = spec("plain");
    assert.deepEqual(hooks.beforeStart(plain), plain);
  });

  test("the router's own state callback still runs, after the release", () => {
    const seen: string[] = [];
    const { monitor, spec } = monitorFor();
    const hooks = monitor.hooks({ onState: (id, _from, to) => seen.push(`${id} ${to} placed=${monitor.book.placement(id) !== null}`) });
    hooks.beforeStart(spec("split"));
    hooks.onState("split", "ready", "failed");
    assert.deepEqual(seen, ["split failed placed=false"]);
  });

  test("with another policy it changes nothing", () => {
    const setup = load(`
startPort: 9000
models:
  a: { cmd: "a --port \${PORT} \${MODEL_ID}" }
`);
    const monitor = new MemoryMonitor({ runtime, log: new Logger(new LogHub("none", null).proxy), running: () => [], envOf: () => ({}) });
    assert.equal(monitor.bind(setup.planner), setup.planner);
    const spec = upstreamSpecs(setup.config)[0];
    assert.equal(monitor.hooks({}).beforeStart(spec), spec);
    assert.equal(monitor.planning(), false);
    assert.deepEqual(monitor.devices(), []);
  });
});

describe("memory state file", () => {
  test("its place: XDG_STATE_HOME, else ~/.local/state", () => {
    const fake = (env: Record<string, string>) => ({ ...runtime, env: (name: string) => env[name] });
    assert.equal(stateFilePath(fake({ XDG_STATE_HOME: "/s/", HOME: "/h" })), "/s/modelswap/memory.json");
    assert.equal(stateFilePath(fake({ HOME: "/h" })), "/h/.local/state/modelswap/memory.json");
    assert.equal(stateFilePath(fake({})), null);
  });

  test("written atomically into a new directory, read back; junk entries are dropped", async () => {
    const dir = mkdtempSync(join(tmpdir(), "modelswap-state-"));
    const path = join(dir, "deeper", "memory.json");
    await writeMeasurements(runtime, path, { a: { usage: { gpu0: 5, ram: 7 }, at: "2026-01-01T00:00:00.000Z" } });
    assert.deepEqual(readdirSync(join(dir, "deeper")), ["memory.json"], "no temporary file left behind");
    assert.deepEqual(await readMeasurements(runtime, path), { a: { usage: { gpu0: 5, ram: 7 }, at: "2026-01-01T00:00:00.000Z" } });

    writeFileSync(path, JSON.stringify({ models: { a: { usage: { gpu0: -1, vram: 3, ram: 9 }, at: "t" }, b: "x", c: { usage: {} } } }));
    assert.deepEqual(await readMeasurements(runtime, path), { a: { usage: { ram: 9 }, at: "t" } });
    writeFileSync(path, "{ not json");
    assert.deepEqual(await readMeasurements(runtime, path), {});
    writeFileSync(path, " ".repeat(2 * 1024 * 1024));
    assert.deepEqual(await readMeasurements(runtime, path), {}, "a file beyond 1 MiB is not read");
    assert.deepEqual(await readMeasurements(runtime, join(dir, "missing.json")), {});
  });
});
