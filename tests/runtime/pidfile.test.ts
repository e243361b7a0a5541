import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  defaultRecordDir,
  processStartTime,
  reapLeftovers,
  recordSpawn,
  removeRecord,
  type SpawnRecord,
} from "../../src/upstream/pidfile.ts";
import type { ChildProcess } from "../../src/runtime/runtime.ts";
import { pidAlive, runtime, startProcess, waitFor } from "../helpers/process.ts";

const dir = `/tmp/modelswap-pidfile-test-${runtime.pid}-${Date.now()}`;
const spawned: ChildProcess[] = [];
let deadPid = 0;

/** A long-running upstream stand-in with a grandchild, in its own group; returns its record. */
async function leftover(routerPid: number, routerStart: string): Promise<{ record: SpawnRecord; grandchild: number }> {
  const argv = ["sh", "-c", "sleep 600 & echo $!; wait"];
  const started = startProcess(argv);
  spawned.push(started.proc);
  const grandchild = Number((await started.stdout.match(/(\d+)\n/))[1]);
  const start = await processStartTime(started.proc.pid, runtime);
  assert.ok(start);
  const pid = started.proc.pid;
  return { record: { routerPid, routerStart, pid, pgid: pid, start, argv }, grandchild };
}

describe(`spawn records (${runtime.name})`, () => {
  before(async () => {
    const gone = runtime.spawn({ argv: ["true"], output: "null" });
    await gone.exited;
    deadPid = gone.pid;
  });

  after(async () => {
    for (const proc of spawned) runtime.killGroup(proc.pid, "SIGKILL");
    await Promise.all(spawned.map((proc) => proc.exited));
    for (const name of await runtime.readDir(dir).catch(() => [])) await runtime.remove(`${dir}/${name}`);
    await runtime.remove(dir);
  });

  it("writes a record atomically and removes it", async () => {
    const record = {
      routerPid: 11,
      routerStart: "5",
      pid: 22,
      pgid: 22,
      start: "6",
      argv: ["llama-server", "--port", "1"],
    };
    const path = await recordSpawn(dir, record, runtime);
    assert.deepEqual(JSON.parse(await runtime.readTextFile(path)), record);
    assert.deepEqual((await runtime.readDir(dir)).filter((n) => n.includes("11-22")), ["11-22.json"]);
    await removeRecord(dir, record, runtime);
    assert.equal(await runtime.stat(path), null);
  });

  it("stops the whole group of an upstream whose router is gone, and deletes its record", async () => {
    const { record, grandchild } = await leftover(deadPid, "1");
    const path = await recordSpawn(dir, record, runtime);
    const warnings: string[] = [];
    assert.deepEqual(await reapLeftovers(dir, runtime, (m) => warnings.push(m)), [record.pid]);
    await waitFor(() => !pidAlive(record.pid) && !pidAlive(grandchild), { what: "the leftover group to exit" });
    assert.equal(await runtime.stat(path), null);
    assert.match(warnings.join("\n"), new RegExp(`stopping leftover upstream pid ${record.pid}`));
  });

  it("leaves the upstreams of a router that is still running alone", async () => {
    const { record } = await leftover(runtime.pid, (await processStartTime(runtime.pid, runtime))!);
    const path = await recordSpawn(dir, record, runtime);
    assert.deepEqual(await reapLeftovers(dir, runtime, () => {}), []);
    assert.ok(pidAlive(record.pid));
    assert.notEqual(await runtime.stat(path), null);
    await removeRecord(dir, record, runtime);
  });

  it("never touches a process that only reused a recorded pid", async () => {
    const { record } = await leftover(deadPid, "1");
    const wrongStart = { ...record, start: String(Number(record.start) + 1) };
    const wrongCommand = { ...record, routerPid: deadPid + 1, argv: ["llama-server", "--port", "8080"] };
    const paths = [await recordSpawn(dir, wrongStart, runtime), await recordSpawn(dir, wrongCommand, runtime)];
    assert.deepEqual(await reapLeftovers(dir, runtime, () => {}), []);
    assert.ok(pidAlive(record.pid));
    for (const path of paths) assert.equal(await runtime.stat(path), null, "the stale record is deleted");
  });

  it("skips and keeps files it cannot parse", async () => {
    await runtime.mkdir(dir);
    await runtime.writeTextFile(`${dir}/999-998.json`, "{ half a rec");
    await runtime.writeTextFile(`${dir}/999-997.json`, JSON.stringify({ routerPid: "x" }));
    assert.deepEqual(await reapLeftovers(dir, runtime, () => {}), []);
    assert.notEqual(await runtime.stat(`${dir}/999-998.json`), null);
    assert.notEqual(await runtime.stat(`${dir}/999-997.json`), null);
  });

  it("finds nothing to do when the directory does not exist", async () => {
    assert.deepEqual(await reapLeftovers(`${dir}/missing`, runtime), []);
  });

  it("defaults to a per-user directory", async () => {
    const xdg = runtime.env("XDG_RUNTIME_DIR");
    const expected = xdg ? `${xdg}/modelswap` : /^\/tmp\/modelswap-\w+$/;
    if (typeof expected === "string") assert.equal(await defaultRecordDir(runtime), expected);
    else assert.match(await defaultRecordDir(runtime), expected);
  });
});
