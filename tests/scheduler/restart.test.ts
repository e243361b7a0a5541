/**
 * Restarting a model whose settings changed (config reload): new requests
 * wait instead of reaching the old process, in-flight ones finish, then the
 * model is stopped and the waiting requests start it with its new settings.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { AllExclusive, IDLE, Rig } from "./fakes.ts";

describe("restart after a settings change", () => {
  test("a busy model: new requests queue, the in-flight ones finish, then it stops and the queue starts it again", () => {
    const rig = new Rig(new AllExclusive(), { ready: ["a"] });
    const first = rig.request("a");
    const second = rig.request("a");
    assert.equal(rig.world.grants.length, 2);
    rig.scheduler.restart("a", rig.now);
    const third = rig.request("a");
    assert.equal(rig.world.grants.length, 2, "the new request is not granted to the old process");
    assert.deepEqual(rig.world.stops, [], "nothing stops while requests are in flight");
    rig.serveDone(first);
    assert.deepEqual(rig.world.stops, []);
    rig.serveDone(second);
    assert.deepEqual(rig.world.stops, [["a"]], "stopped once idle");
    assert.equal(rig.world.swapTo("a").target, "a", "the queued request starts it again");
    rig.finishSwap("a");
    assert.deepEqual(rig.world.grants.map((g) => g.id), [first, second, third]);
    rig.serveDone(third);
    assert.deepEqual(rig.counters(), IDLE);
  });

  test("an idle model is stopped at once; a model that is not running is left alone", () => {
    const rig = new Rig(new AllExclusive(), { ready: ["a"] });
    rig.scheduler.restart("a", rig.now);
    assert.deepEqual(rig.world.stops, [["a"]]);
    rig.scheduler.restart("b", rig.now);
    assert.deepEqual(rig.world.stops, [["a"]]);
    const next = rig.request("a");
    rig.finishSwap("a");
    rig.serveDone(next);
    assert.deepEqual(rig.counters(), IDLE);
  });

  test("a model still starting finishes its start, serves its waiters, then restarts", () => {
    const rig = new Rig(new AllExclusive());
    const waiter = rig.request("a");
    rig.scheduler.restart("a", rig.now);
    assert.deepEqual(rig.world.stops, [], "the start is not aborted");
    rig.finishSwap("a");
    assert.deepEqual(rig.world.grants.map((g) => g.id), [waiter]);
    rig.serveDone(waiter);
    assert.deepEqual(rig.world.stops, [["a"]]);
  });

  test("an unload cancels a pending restart", () => {
    const rig = new Rig(new AllExclusive(), { ready: ["a"] });
    const busy = rig.request("a");
    rig.scheduler.restart("a", rig.now);
    rig.scheduler.unload(["a"], rig.now);
    assert.deepEqual(rig.world.stops, [["a"]]);
    rig.serveDone(busy);
    assert.deepEqual(rig.world.stops, [["a"]], "no second stop for the cancelled restart");
  });

  test("a model nobody waits for is started again on its own once its stop is reported", () => {
    const rig = new Rig(new AllExclusive(), { ready: ["a", "b"] });
    rig.scheduler.restart("a", rig.now);
    assert.deepEqual(rig.world.stops, [["a"]]);
    assert.deepEqual(rig.world.stopReasons, ["restart"]);
    assert.equal(rig.world.swaps.length, 0, "nothing starts before the stop is done");
    rig.stopped("a");
    const plan = rig.world.swapTo("a");
    assert.deepEqual(plan.evict, ["b"], "the restart loads it like a request would, by the planner's rules");
    rig.finishSwap("a");
    assert.deepEqual(rig.world.grants, [], "no client is granted anything");
    assert.deepEqual(rig.counters(), IDLE);
  });

  test("a request that arrives while the restart stops the model starts it; the stop report adds no second start", () => {
    const rig = new Rig(new AllExclusive(), { ready: ["a"] });
    rig.scheduler.restart("a", rig.now);
    rig.world.states.set("a", "stopping");
    const id = rig.request("a");
    assert.equal(rig.world.swaps.length, 1);
    rig.stopped("a");
    assert.equal(rig.world.swaps.length, 1);
    rig.finishSwap("a");
    assert.deepEqual(rig.world.granted, [id]);
  });

  test("an unload after the restart's stop began cancels the start that would follow it", () => {
    const rig = new Rig(new AllExclusive(), { ready: ["a"] });
    rig.scheduler.restart("a", rig.now);
    rig.scheduler.unload(["a"], rig.now);
    rig.stopped("a");
    assert.equal(rig.world.swaps.length, 0);
  });
});
