/**
 * The router in-process, on fake processes and a fake clock: the decisions
 * the scheduler owns (TTL, restarts after a config change, reactions to a
 * process that stopped) carried out on the processes, with no timer of the
 * router's own and no real process or port.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { RouterRig } from "./fakes.ts";

const TWO_MODELS = `
models:
  a: { cmd: "server-a --port \${PORT}", ttl: 60 }
  b: { cmd: "server-b --port \${PORT}" }
`;

/** Loads `model` through a request (completing its start), then finishes the request. */
async function use(rig: RouterRig, model: string): Promise<void> {
  const process = rig.process(model);
  const ticket = rig.router.request(model, new AbortController().signal);
  if (process.state !== "ready") {
    await process.whenState("starting");
    process.ready();
  }
  (await ticket.lease).release();
}

describe("router: ttl on the scheduler's clock", () => {
  test("an idle model is stopped when its ttl runs out, not a moment before", async () => {
    const rig = new RouterRig(TWO_MODELS);
    await use(rig, "a");
    rig.clock.advance(59_999);
    assert.equal(rig.process("a").stops, 0);
    rig.clock.advance(1);
    assert.equal(rig.process("a").stops, 1);
    assert.match(rig.log, /a: unloaded after 60s idle \(ttl\)/);
  });

  test("a request in flight keeps the model however long it runs; the ttl counts from its end", async () => {
    const rig = new RouterRig(TWO_MODELS);
    await use(rig, "a");
    const lease = await rig.router.request("a", new AbortController().signal).lease;
    rig.clock.advance(10 * 60_000);
    assert.equal(rig.process("a").stops, 0);
    lease.release();
    rig.clock.advance(60_000);
    assert.equal(rig.process("a").stops, 1);
  });

  test("a model that crashed has no ttl left: nothing is stopped later, and the next request starts it again", async () => {
    const rig = new RouterRig(TWO_MODELS);
    await use(rig, "a");
    rig.process("a").crash();
    rig.clock.advance(120_000);
    assert.equal(rig.process("a").stops, 0);
    await use(rig, "a");
    assert.equal(rig.process("a").starts, 2);
  });
});

describe("router: restart after a config change", () => {
  const changed = TWO_MODELS.replace("server-a", "server-a2");

  test("an idle changed model is stopped, then started again with its new settings with no request needed", async () => {
    const rig = new RouterRig(TWO_MODELS);
    await use(rig, "a");
    const changes = rig.reload(changed);
    assert.deepEqual(changes, { added: [], changed: ["a"], removed: [] });
    assert.equal(rig.process("a").stops, 1, "stopped at once: nothing in flight");
    assert.equal(rig.process("a").starts, 1, "not started before the stop is done");
    rig.process("a").exited();
    await rig.process("a").whenState("starting");
    assert.match(rig.process("a").startedWith!.argv.join(" "), /^server-a2 /);
    assert.equal(rig.router.status().find((s) => s.model === "a")?.queued, 0, "the restart is no client's request");
    rig.process("a").ready();
  });

  test("a busy changed model finishes its requests first; a request that arrives meanwhile gets the new process", async () => {
    const rig = new RouterRig(TWO_MODELS);
    await use(rig, "a");
    const busy = await rig.router.request("a", new AbortController().signal).lease;
    rig.reload(changed);
    const next = rig.router.request("a", new AbortController().signal);
    assert.equal(rig.process("a").stops, 0, "not while a request is in flight");
    busy.release();
    assert.equal(rig.process("a").stops, 1);
    rig.process("a").exited();
    await rig.process("a").whenState("starting");
    rig.process("a").ready();
    const lease = await next.lease;
    assert.equal(rig.process("a").starts, 2, "one restart serves the waiting request too");
    assert.match(rig.process("a").startedWith!.argv.join(" "), /^server-a2 /);
    lease.release();
  });

  test("an unchanged model keeps its process; an unload cancels a pending restart", async () => {
    const rig = new RouterRig(TWO_MODELS);
    await use(rig, "b");
    const busy = await rig.router.request("b", new AbortController().signal).lease;
    rig.reload(TWO_MODELS.replace("server-b", "server-b2"));
    const unloaded = rig.router.unload(["b"]);
    rig.process("b").exited();
    await unloaded;
    busy.release();
    assert.equal(rig.process("b").starts, 1, "no restart after an unload");
  });
});

describe("router: stop events", () => {
  test("a model removed by a reload while it stops, then added back, keeps working", async () => {
    const rig = new RouterRig(TWO_MODELS);
    await use(rig, "b");
    const withoutB = "models:\n  a: { cmd: \"server-a --port ${PORT}\", ttl: 60 }\n";
    assert.deepEqual(rig.reload(withoutB).removed, ["b"]);
    assert.equal(rig.process("b").state, "stopping");
    assert.deepEqual(rig.reload(TWO_MODELS).added, ["b"]);
    rig.process("b").exited();
    await use(rig, "b");
    assert.equal(rig.process("b").starts, 2);
    assert.ok(rig.router.status().some((s) => s.model === "b"), "still listed");
  });

  test("a failed start fails the waiting request, and the next request tries again", async () => {
    const rig = new RouterRig(TWO_MODELS);
    const first = rig.router.request("b", new AbortController().signal);
    await rig.process("b").whenState("starting");
    rig.process("b").failStart("exited with code 3");
    await assert.rejects(first.lease, /exited with code 3/);
    await use(rig, "b");
    assert.equal(rig.process("b").starts, 2);
  });

  test("shutdown fails what waits and stops every process", async () => {
    const rig = new RouterRig(TWO_MODELS);
    await use(rig, "a");
    const waiting = rig.router.request("b", new AbortController().signal);
    const done = rig.router.shutdown();
    await assert.rejects(waiting.lease, (error: Error & { status?: number }) => error.status === 503);
    for (const id of ["a", "b"]) if (rig.process(id).state === "stopping") rig.process(id).exited();
    await done;
    assert.ok(["a", "b"].every((id) => rig.process(id).state === "stopped"));
  });

  test("the starvation timer runs on the router's clock: a starved request stops new work for the model it must evict", async () => {
    const rig = new RouterRig(`
routing: { scheduler: { settings: { fifo: { starvationTimeout: 30 } } } }
models:
  a: { cmd: "server-a --port \${PORT}" }
  b: { cmd: "server-b --port \${PORT}" }
`);
    await use(rig, "a");
    const busy = await rig.router.request("a", new AbortController().signal).lease;
    rig.router.request("b", new AbortController().signal).lease.catch(() => {});
    const beforeDeadline = await rig.router.request("a", new AbortController().signal).lease;
    beforeDeadline.release();
    rig.clock.advance(30_000);
    const held = rig.router.request("a", new AbortController().signal);
    assert.equal(held.mustWait, false, "a is ready...");
    assert.deepEqual(rig.router.status().find((s) => s.model === "a")?.queued, 1, "...but the new request waits behind the starved one");
    held.lease.catch(() => {});
    busy.release();
    await rig.process("a").whenState("stopping");
  });
});
