/**
 * TTL: a ready model that nobody uses for its `ttl` is stopped. The deadline
 * lives in the scheduler, on the clock its events carry, so these tests
 * drive it with a fake clock.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { AllExclusive, Rig, settings, StubPlanner } from "./fakes.ts";

const TTL = 60_000;

describe("ttl", () => {
  test("stops a model with nothing in flight, waiting or queued, once its ttl has passed", () => {
    const rig = new Rig(new AllExclusive(), { ready: ["a"], settings: settings({ ttls: { a: TTL } }) });
    rig.serveDone(rig.request("a"));
    rig.advanceTo(TTL - 1);
    assert.deepEqual(rig.world.stops, [], "not before the ttl");
    rig.advanceTo(TTL);
    assert.deepEqual(rig.world.stops, [["a"]]);
    assert.deepEqual(rig.world.stopReasons, ["ttl"]);
  });

  test("keeps a model with a request in flight", () => {
    const rig = new Rig(new AllExclusive(), { ready: ["a"], settings: settings({ ttls: { a: TTL } }) });
    rig.request("a");
    rig.advanceTo(10 * TTL);
    assert.deepEqual(rig.world.stops, []);
  });

  test("keeps a model a swap is loading, and one with queued requests", () => {
    const rig = new Rig(new StubPlanner({ b: ["a"] }), { ready: ["a"], settings: settings({ ttls: { b: TTL, c: TTL } }) });
    const a = rig.request("a");
    rig.request("b");
    rig.request("c");
    rig.world.states.set("b", "ready");
    rig.advanceTo(10 * TTL);
    rig.serveDone(a);
    assert.deepEqual(rig.world.stops, []);
  });

  test("the ttl counts from the end of the last request", () => {
    const rig = new Rig(new AllExclusive(), { ready: ["a"], settings: settings({ ttls: { a: TTL } }) });
    rig.serveDone(rig.request("a"));
    rig.advanceTo(TTL / 2);
    const second = rig.request("a");
    rig.advanceTo(TTL * 2);
    assert.deepEqual(rig.world.stops, [], "a request in flight holds it however long it runs");
    rig.serveDone(second);
    rig.advanceTo(TTL * 3 - 1);
    assert.deepEqual(rig.world.stops, []);
    rig.advanceTo(TTL * 3);
    assert.deepEqual(rig.world.stops, [["a"]]);
  });

  test("a request arriving after the deadline but before the timer fired is served, not stopped under it", () => {
    const rig = new Rig(new AllExclusive(), { ready: ["a"], settings: settings({ ttls: { a: TTL } }) });
    rig.serveDone(rig.request("a"));
    rig.now = TTL + 5; // the timer is late
    const late = rig.request("a");
    assert.deepEqual(rig.world.granted.at(-1), late);
    assert.deepEqual(rig.world.stops, []);
  });

  test("a model that loaded with nobody waiting idles from the moment it is ready", () => {
    const rig = new Rig(new AllExclusive(), { settings: settings({ ttls: { a: TTL } }) });
    const id = rig.request("a");
    rig.cancel(id);
    rig.advanceTo(1000);
    rig.finishSwap("a");
    rig.advanceTo(1000 + TTL);
    assert.deepEqual(rig.world.stops, [["a"]]);
  });

  test("a model that crashed has no ttl left to run", () => {
    const rig = new Rig(new AllExclusive(), { ready: ["a"], settings: settings({ ttls: { a: TTL } }) });
    rig.serveDone(rig.request("a"));
    rig.stopped("a");
    assert.equal(rig.world.timer, null, "no deadline is armed");
    rig.advanceTo(2 * TTL);
    assert.deepEqual(rig.world.stops, []);
  });

  test("no ttl (0) never stops a model", () => {
    const rig = new Rig(new AllExclusive(), { ready: ["a"] });
    rig.serveDone(rig.request("a"));
    assert.equal(rig.world.timer, null);
  });

  test("a ttl added by a reload starts counting for an idle model", () => {
    const rig = new Rig(new AllExclusive(), { ready: ["a"] });
    rig.serveDone(rig.request("a"));
    rig.advanceTo(5000);
    rig.scheduler.reconfigure(new AllExclusive(), settings({ ttls: { a: TTL } }), rig.now);
    rig.advanceTo(5000 + TTL);
    assert.deepEqual(rig.world.stops, [["a"]]);
  });

  test("the starvation timer and the ttl share the one timer, nearest deadline first", () => {
    const rig = new Rig(new StubPlanner({ b: ["a"] }), {
      ready: ["a", "c"],
      settings: settings({ ttls: { c: 5_000 }, starvationTimeoutMs: 30_000 }),
    });
    rig.serveDone(rig.request("c"));
    rig.request("a");
    rig.request("b"); // queued: a is busy
    assert.equal(rig.world.timer, 5_000, "the ttl of c comes first");
    rig.advanceTo(5_000);
    assert.deepEqual(rig.world.stops, [["c"]]);
    assert.equal(rig.world.timer, 30_000, "then the starvation deadline");
  });

  test("a client's keep-alive replaces the ttl until the model stops: 0 stops it once idle, negative keeps it", () => {
    const rig = new Rig(new StubPlanner(), { ready: ["a", "b"], settings: settings({ ttls: { a: TTL, b: TTL } }) });
    const id = rig.request("a");
    rig.scheduler.keepAlive("a", 0, rig.now);
    assert.deepEqual(rig.world.stops, [], "not while a request is in flight");
    rig.serveDone(id);
    rig.advanceTo(rig.now);
    assert.deepEqual(rig.world.stops, [["a"]]);
    rig.stopped("a");
    rig.scheduler.keepAlive("b", -1, rig.now);
    rig.serveDone(rig.request("b"));
    rig.advanceTo(100 * TTL);
    assert.deepEqual(rig.world.stops, [["a"]], "b is kept for ever");
  });

  test("a keep-alive lasts until the model stops; then the configured ttl applies again", () => {
    const rig = new Rig(new AllExclusive(), { ready: ["a"], settings: settings({ ttls: { a: TTL } }) });
    rig.scheduler.keepAlive("a", 5_000, rig.now);
    rig.advanceTo(5_000);
    assert.deepEqual(rig.world.stops, [["a"]]);
    rig.stopped("a");
    const id = rig.request("a");
    rig.finishSwap("a");
    rig.serveDone(id);
    rig.advanceTo(5_000 + TTL - 1);
    assert.equal(rig.world.stops.length, 1, "the configured 60 s ttl, not the client's 5 s");
    rig.advanceTo(5_000 + TTL);
    assert.equal(rig.world.stops.length, 2);
  });
});
