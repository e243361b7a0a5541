/**
 * The scheduler's decision tree, collation, priorities and bookkeeping,
 * following llama-swap's worked examples (reference §4.8, numbered below).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ModelswapError } from "../../src/errors.ts";
import { AllExclusive, IDLE, Rig, settings, StubPlanner } from "./fakes.ts";

describe("decision tree (reference §4.8)", () => {
  test("1: a ready model is served at once, without a swap", () => {
    const rig = new Rig(new AllExclusive(), { ready: ["a"] });
    const id = rig.request("a");
    assert.deepEqual(rig.world.granted, [id]);
    assert.equal(rig.world.swaps.length, 0);
    rig.serveDone(id);
    assert.deepEqual(rig.counters(), IDLE);
  });

  test("2: a stopped model is swapped in, then served", () => {
    const rig = new Rig(new AllExclusive());
    const id = rig.request("a");
    assert.deepEqual(rig.world.swaps.map((s) => [s.target, s.evict]), [["a", []]]);
    assert.deepEqual(rig.world.granted, []);
    rig.finishSwap("a");
    assert.deepEqual(rig.world.granted, [id]);
  });

  test("3: three requests for a stopped model share one swap", () => {
    const rig = new Rig(new AllExclusive());
    const ids = [rig.request("a"), rig.request("a"), rig.request("a")];
    assert.equal(rig.world.swaps.length, 1);
    assert.equal(rig.scheduler.snapshot().swaps[0].waiters, 3);
    rig.finishSwap("a");
    assert.deepEqual(rig.world.granted, ids);
    for (const id of ids) rig.serveDone(id);
    assert.deepEqual(rig.counters(), IDLE);
  });

  test("4: a swap error reaches every waiter unchanged and releases them", () => {
    const rig = new Rig(new AllExclusive());
    const ids = [rig.request("a"), rig.request("a")];
    const error = new ModelswapError(502, "upstream_start_failed", `model "a" exited with code 1`, { model: "a" });
    rig.finishSwap("a", error);
    assert.deepEqual(rig.world.failed, ids);
    for (const f of rig.world.fails) assert.equal(f.error, error);
    assert.deepEqual(rig.world.granted, []);
    assert.deepEqual(rig.counters(), IDLE);
  });

  test("5: a request that must evict a busy model waits until it is idle", () => {
    const rig = new Rig(new StubPlanner({ b: ["a"] }));
    const a = rig.request("a");
    const b = rig.request("b");
    assert.deepEqual(rig.world.swaps.map((s) => s.target), ["a"]);
    assert.deepEqual(rig.scheduler.snapshot().queued.map((q) => q.id), [b]);
    rig.finishSwap("a");
    assert.deepEqual(rig.world.granted, [a]);
    assert.equal(rig.world.swaps.length, 1, "b must not evict a while a serves");
    rig.serveDone(a);
    assert.deepEqual(rig.world.swapTo("b").evict, ["a"]);
    rig.finishSwap("b");
    assert.deepEqual(rig.world.granted, [a, b]);
  });

  test("6: swaps with no evictions run in parallel", () => {
    const rig = new Rig(new StubPlanner({}));
    rig.request("a");
    rig.request("b");
    assert.deepEqual(rig.world.swaps.map((s) => s.target), ["a", "b"]);
  });

  test("7: two swaps that evict the same model do not overlap", () => {
    const rig = new Rig(new StubPlanner({ a: ["x"], b: ["x"] }), { ready: ["x"] });
    rig.request("a");
    const b = rig.request("b");
    assert.deepEqual(rig.world.swaps.map((s) => s.target), ["a"]);
    assert.deepEqual(rig.scheduler.snapshot().queued.map((q) => q.id), [b]);
    rig.finishSwap("a");
    assert.deepEqual(rig.world.swaps.map((s) => [s.target, s.evict]), [["a", ["x"]], ["b", []]]);
  });

  test("8: requests for models being evicted wait, then start together", () => {
    const rig = new Rig(new StubPlanner({ a: ["b", "c"] }), { ready: ["b", "c"] });
    rig.request("a");
    assert.deepEqual(rig.world.swapTo("a").evict, ["b", "c"]);
    rig.request("b");
    rig.request("c");
    assert.equal(rig.scheduler.snapshot().queued.length, 2);
    rig.finishSwap("a");
    assert.deepEqual(rig.world.swaps.map((s) => s.target), ["a", "b", "c"]);
  });

  test("9: collation turns A B C A B C into three swaps served A A B B C C", () => {
    const rig = new Rig(new AllExclusive());
    const [a1, b1, c1, a2, b2, c2] = ["a", "b", "c", "a", "b", "c"].map((m) => rig.request(m));
    assert.deepEqual(rig.scheduler.snapshot().queued.map((q) => q.id), [b1, c1, b2, c2]);
    rig.finishSwap("a");
    assert.deepEqual(rig.world.granted, [a1, a2]);
    rig.serveDone(a1);
    assert.equal(rig.world.swaps.length, 1, "a still serves a2");
    rig.serveDone(a2);
    assert.equal(rig.scheduler.snapshot().swaps[0].waiters, 2, "b2 joined b1's swap");
    rig.finishSwap("b");
    rig.serveDone(b1);
    rig.serveDone(b2);
    rig.finishSwap("c");
    rig.serveDone(c1);
    rig.serveDone(c2);
    assert.deepEqual(rig.world.swaps.map((s) => s.target), ["a", "b", "c"]);
    assert.deepEqual(rig.world.granted, [a1, a2, b1, b2, c1, c2]);
    assert.deepEqual(rig.counters(), IDLE);
  });

  test("10: an evicting request waits for every in-flight request", () => {
    const rig = new Rig(new AllExclusive(), { ready: ["a"] });
    const [a1, a2] = [rig.request("a"), rig.request("a")];
    rig.request("b");
    rig.serveDone(a1);
    assert.equal(rig.world.swaps.length, 0);
    rig.serveDone(a2);
    assert.deepEqual(rig.world.swapTo("b").evict, ["a"]);
  });

  test("11: a grant to a client that left leaks nothing in flight", () => {
    const rig = new Rig(new AllExclusive());
    const a = rig.request("a");
    rig.world.gone.add(a);
    rig.finishSwap("a");
    assert.deepEqual(rig.counters(), IDLE);
    rig.request("b");
    assert.deepEqual(rig.world.swapTo("b").evict, ["a"], "a is idle, so b starts at once");
  });

  test("12: shutdown fails waiters and queued requests, then refuses new ones", () => {
    const rig = new Rig(new StubPlanner({ c: ["a"] }));
    const ids = [rig.request("a"), rig.request("a"), rig.request("b"), rig.request("b"), rig.request("c")];
    assert.equal(rig.scheduler.snapshot().queued.length, 1);
    rig.scheduler.shutdown(rig.now);
    assert.deepEqual([...rig.world.failed].sort(), ids);
    for (const f of rig.world.fails) assert.equal(f.error.code, "shutting_down");
    assert.deepEqual(rig.counters(), IDLE);
    const later = rig.tryRequest("a");
    assert.equal(later.ok, false);
    assert.equal(!later.ok && later.error.status, 503);
    rig.finishSwap("a"); // a swap finishing after shutdown grants nothing
    assert.deepEqual(rig.world.granted, []);
  });

  test("13: unloading a loading model fails its waiters and stops it once", () => {
    const rig = new Rig(new AllExclusive());
    const ids = [rig.request("a"), rig.request("a")];
    rig.scheduler.unload(["a"], rig.now);
    assert.deepEqual(rig.world.failed, ids);
    for (const f of rig.world.fails) {
      assert.equal(f.error.status, 503);
      assert.equal(f.error.code, "model_unloaded");
      assert.match(f.error.message, /model "a" was unloaded/);
    }
    assert.deepEqual(rig.world.stops, [["a"]]);
    assert.deepEqual(rig.counters(), IDLE);
  });

  test("14: unloading a queued model fails it and leaves other swaps alone", () => {
    const rig = new Rig(new StubPlanner({ b: ["a"] }));
    const a = rig.request("a");
    const b = rig.request("b");
    rig.scheduler.unload(["b"], rig.now);
    assert.deepEqual(rig.world.failed, [b]);
    assert.deepEqual(rig.scheduler.snapshot().swaps.map((s) => s.target), ["a"]);
    rig.finishSwap("a");
    rig.serveDone(a);
    assert.deepEqual(rig.world.swaps.map((s) => s.target), ["a"], "b never starts");
    assert.deepEqual(rig.counters(), IDLE);
  });

  test("15: the queue is ordered by priority, FIFO among equals", () => {
    const rig = new Rig(new AllExclusive(), { settings: settings({ priorities: { A: 10, B: 5, C: 5, D: 1 } }) });
    rig.request("z");
    const b = rig.request("B");
    const d = rig.request("D");
    const c = rig.request("C");
    const a = rig.request("A");
    assert.deepEqual(rig.scheduler.snapshot().queued.map((q) => q.id), [a, b, c, d]);
    assert.deepEqual(rig.world.positions.get(d), [2, 3, 4], "D moved back as B-, C- and A-requests overtook it");
    assert.deepEqual(rig.world.positions.get(a), [1]);
  });

  test("16: a cancelled queued request never loads; a cancelled waiter is not granted", () => {
    const rig = new Rig(new AllExclusive());
    const a1 = rig.request("a");
    const a2 = rig.request("a");
    const b = rig.request("b");
    rig.cancel(b);
    rig.cancel(a2);
    rig.finishSwap("a");
    assert.deepEqual(rig.world.granted, [a1]);
    rig.serveDone(a1);
    assert.deepEqual(rig.world.swaps.map((s) => s.target), ["a"], "b was cancelled, so nothing else loads");
    assert.deepEqual(rig.counters(), IDLE);
  });

  describe("17: concurrency limit at admission", () => {
    test("limit 1: a second concurrent request gets 429, a later one is admitted", () => {
      const rig = new Rig(new AllExclusive(), { ready: ["a"], settings: settings({ limits: { a: 1 } }) });
      const first = rig.request("a");
      const second = rig.tryRequest("a");
      assert.equal(second.ok, false);
      if (!second.ok) {
        assert.equal(second.error.status, 429);
        assert.equal(second.error.code, "concurrency_limit");
        assert.equal(second.error.retryAfter, 1);
        assert.match(second.error.message, /"a".*1 requests/);
      }
      assert.deepEqual(rig.world.failed, [], "a refusal is an admission answer, not a failed grant");
      rig.serveDone(first);
      assert.equal(rig.tryRequest("a").ok, true);
    });

    test("default limit 10: the 11th concurrent request gets 429", () => {
      const rig = new Rig(new AllExclusive(), { ready: ["a"] });
      for (let i = 0; i < 10; i++) rig.request("a");
      assert.equal(rig.tryRequest("a").ok, false);
    });

    test("waiters on a loading model count; the swap keeps only the admitted ones", () => {
      const rig = new Rig(new AllExclusive(), { settings: settings({ limits: { a: 2 } }) });
      rig.request("a");
      rig.request("a");
      assert.equal(rig.tryRequest("a").ok, false);
      assert.equal(rig.scheduler.snapshot().swaps[0].waiters, 2);
    });

    test("queued requests hold capacity until cancelled", () => {
      const rig = new Rig(new AllExclusive(), { settings: settings({ limits: { b: 1 } }) });
      rig.request("a");
      const b = rig.request("b");
      assert.equal(rig.tryRequest("b").ok, false);
      rig.cancel(b);
      assert.equal(rig.tryRequest("b").ok, true);
    });
  });
});

describe("admission", () => {
  test("an unknown model gets 404 model_not_found naming it", () => {
    const rig = new Rig(new AllExclusive(), { settings: settings({ known: ["a"] }) });
    const answer = rig.tryRequest("nope");
    assert.equal(answer.ok, false);
    if (!answer.ok) {
      assert.equal(answer.error.status, 404);
      assert.equal(answer.error.code, "model_not_found");
      assert.match(answer.error.message, /"nope"/);
      assert.equal(answer.error.details.model, "nope");
    }
    assert.deepEqual(rig.counters(), IDLE);
  });

  test("a full queue refuses requests that would queue with 503 and Retry-After, but still serves others", () => {
    const rig = new Rig(new AllExclusive(), { settings: settings({ maxQueue: 2 }) });
    rig.request("a");
    rig.request("b");
    rig.request("c");
    const refused = rig.tryRequest("d");
    assert.equal(refused.ok, false);
    if (!refused.ok) {
      assert.equal(refused.error.status, 503);
      assert.equal(refused.error.code, "queue_full");
      assert.equal(refused.error.retryAfter, 1);
    }
    assert.equal(rig.tryRequest("a").ok, true, "joining a loading model does not need the queue");
    assert.equal(rig.scheduler.snapshot().reserved.d, undefined);
  });

  test("every path releases its reservation exactly once", () => {
    const rig = new Rig(new AllExclusive());
    const served = rig.request("a");
    const gone = rig.request("a");
    const cancelledWaiter = rig.request("a");
    const cancelledQueued = rig.request("b");
    const unloaded = rig.request("c");
    rig.world.gone.add(gone);
    rig.cancel(cancelledWaiter);
    rig.cancel(cancelledQueued);
    rig.cancel(cancelledQueued);
    rig.scheduler.unload(["c"], rig.now);
    rig.finishSwap("a");
    rig.serveDone(served);
    rig.serveDone(served);
    rig.cancel(served);
    assert.deepEqual(rig.counters(), IDLE);
    assert.deepEqual(rig.world.granted, [served]);
    assert.deepEqual(rig.world.failed, [unloaded]);
  });

  test("cancelling a granted request does not release it; serveDone does", () => {
    const rig = new Rig(new AllExclusive(), { ready: ["a"] });
    const id = rig.request("a");
    rig.cancel(id);
    assert.deepEqual(rig.scheduler.snapshot().inFlight, { a: 1 });
    rig.serveDone(id);
    assert.deepEqual(rig.counters(), IDLE);
  });
});

describe("queue positions", () => {
  test("queued requests learn their position, and again when it changes", () => {
    const rig = new Rig(new AllExclusive());
    const a = rig.request("a");
    const b1 = rig.request("b");
    const b2 = rig.request("b");
    const c = rig.request("c");
    assert.deepEqual(rig.world.positions.get(c), [3]);
    rig.cancel(b1);
    assert.deepEqual(rig.world.positions.get(b2), [2, 1]);
    assert.deepEqual(rig.world.positions.get(c), [3, 2]);
    assert.equal(rig.world.positions.get(a), undefined, "a request that never queued gets no position");
  });
});

describe("unload", () => {
  test('"all" stops every running model and fails what waits for them', () => {
    const rig = new Rig(new StubPlanner({}), { ready: ["x"] });
    const a = rig.request("a");
    const x = rig.request("x");
    rig.scheduler.unload("all", rig.now);
    assert.deepEqual(rig.world.stops, [["a", "x"]]);
    assert.deepEqual(rig.world.failed, [a]);
    rig.serveDone(x);
    assert.deepEqual(rig.counters(), IDLE);
  });

  test("unloading lets queued requests for other models proceed", () => {
    const rig = new Rig(new AllExclusive(), { ready: ["a"] });
    rig.request("a"); // in flight: unload does not wait for it
    rig.request("b");
    assert.equal(rig.world.swaps.length, 0);
    rig.world.states.set("a", "stopped");
    rig.scheduler.unload(["a"], rig.now);
    assert.deepEqual(rig.world.swaps.map((s) => s.target), ["b"]);
  });
});

describe("reconfigure", () => {
  test("re-orders the queue by new priorities and fails requests for removed models", () => {
    const rig = new Rig(new AllExclusive());
    rig.request("z");
    const a = rig.request("a");
    const b = rig.request("b");
    const gone = rig.request("gone");
    rig.scheduler.reconfigure(
      new AllExclusive(),
      settings({ known: ["z", "a", "b"], priorities: { b: 1 } }),
      rig.now,
    );
    assert.deepEqual(rig.scheduler.snapshot().queued.map((q) => q.id), [b, a]);
    assert.deepEqual(rig.world.failed, [gone]);
    assert.equal(rig.world.fails[0].error.status, 404);
    assert.equal(rig.scheduler.snapshot().reserved.gone, undefined);
  });
});

describe("robustness", () => {
  test("a swap that completes synchronously inside startSwap still grants once", () => {
    const rig = new Rig(new AllExclusive());
    const startSwap = rig.world.startSwap.bind(rig.world);
    rig.world.startSwap = (plan) => {
      startSwap(plan);
      rig.world.states.set(plan.target, "ready");
      rig.scheduler.swapDone(plan.id, null, rig.now);
    };
    const id = rig.request("a");
    assert.deepEqual(rig.world.granted, [id]);
    rig.serveDone(id);
    assert.deepEqual(rig.counters(), IDLE);
  });

  test("a stop reported during a drain runs another pass instead of nesting", () => {
    const rig = new Rig(new AllExclusive(), { ready: ["a"] });
    const a = rig.request("a");
    const b = rig.request("b");
    const c = rig.request("c");
    const startSwap = rig.world.startSwap.bind(rig.world);
    rig.world.startSwap = (plan) => {
      startSwap(plan);
      rig.scheduler.modelStopped("z", rig.now);
    };
    rig.serveDone(a);
    assert.deepEqual(rig.world.swaps.map((s) => s.target), ["b"]);
    assert.deepEqual(rig.scheduler.snapshot().queued.map((q) => q.id), [c]);
    rig.finishSwap("b");
    assert.deepEqual(rig.world.granted, [a, b]);
  });
});
