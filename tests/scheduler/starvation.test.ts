/**
 * The starvation timeout: a model kept busy by overlapping requests must
 * yield to a request queued behind it within timeout + longest in-flight
 * request + swap time; with a timeout of 0 it never yields (llama-swap's
 * behaviour, reference §4.4).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { RequestId } from "../../src/scheduler/effects.ts";
import { AllExclusive, IDLE, Rig, settings } from "./fakes.ts";

const SERVE_MS = 1000;
const SWAP_MS = 2000;
const STEP_MS = 100;

/**
 * Drives a rig on the fake clock: granted requests finish SERVE_MS later,
 * swaps finish SWAP_MS after they start, and `arrivals(t)` names the models
 * requested at time t.
 */
class Trace {
  readonly rig: Rig;
  readonly grantedAt = new Map<RequestId, number>();
  readonly admittedAt = new Map<RequestId, number>();
  readonly swapStartedAt: number[] = [];
  readonly #serveEnds = new Map<RequestId, number>();
  #swapsSeen = 0;
  #ran = false;

  constructor(timeoutMs: number, priorities: Record<string, number> = {}) {
    this.rig = new Rig(new AllExclusive(), {
      ready: ["a"],
      settings: settings({ starvationTimeoutMs: timeoutMs, limits: { a: 1000 }, priorities }),
    });
    const grant = this.rig.world.grant.bind(this.rig.world);
    this.rig.world.grant = (id, model) => {
      const delivered = grant(id, model);
      if (delivered) {
        this.grantedAt.set(id, this.rig.now);
        this.#serveEnds.set(id, this.rig.now + SERVE_MS);
      }
      return delivered;
    };
  }

  /** Starts the trace at t=0 with `a` already serving a request. */
  static busy(timeoutMs: number, priorities: Record<string, number> = {}): Trace {
    const trace = new Trace(timeoutMs, priorities);
    trace.run(0, hammerA);
    return trace;
  }

  request(model: string): RequestId {
    const id = this.rig.request(model);
    this.admittedAt.set(id, this.rig.now);
    return id;
  }

  run(untilMs: number, arrivals: (t: number) => string[]): void {
    const from = this.#ran ? this.rig.now + STEP_MS : this.rig.now;
    this.#ran = true;
    for (let t = from; t <= untilMs; t += STEP_MS) {
      this.rig.advanceTo(t);
      for (const [id, end] of [...this.#serveEnds]) {
        if (end <= t) {
          this.#serveEnds.delete(id);
          this.rig.serveDone(id);
        }
      }
      const swaps = this.rig.world.swaps;
      for (let i = 0; i < swaps.length; i++) {
        if (i >= this.#swapsSeen) this.swapStartedAt.push(t);
        if (this.swapStartedAt[i] + SWAP_MS === t) this.rig.finishSwap(swaps[i].target);
      }
      this.#swapsSeen = swaps.length;
      for (const model of arrivals(t)) this.request(model);
    }
  }

  get swapTargets(): string[] {
    return this.rig.world.swaps.map((s) => s.target);
  }
}

/** A request for `a` every 500 ms, each served 1 s: `a` always has something in flight. */
const hammerA = (t: number): string[] => (t % 500 === 0 ? ["a"] : []);

describe("starvation timeout", () => {
  test("with 0, a busy model is never evicted for a queued request", () => {
    const trace = Trace.busy(0);
    const b = trace.request("b");
    trace.run(120_000, hammerA);
    assert.deepEqual(trace.swapTargets, []);
    assert.deepEqual(trace.rig.scheduler.snapshot().queued.map((q) => q.id), [b]);
    assert.ok(trace.rig.world.timers.every((at) => at === null), "no timer is ever armed");
  });

  test("a continuously busy model yields within timeout + longest request + swap", () => {
    const trace = Trace.busy(30_000);
    const b = trace.request("b");
    assert.equal(trace.rig.world.timer, 30_000, "the deadline is armed when b queues");
    trace.run(29_900, hammerA);
    assert.deepEqual(trace.swapTargets, [], "nothing yields before the timeout");
    trace.run(60_000, hammerA);
    assert.equal(trace.swapTargets[0], "b");
    const waited = trace.grantedAt.get(b)! - trace.admittedAt.get(b)!;
    assert.ok(waited <= 30_000 + SERVE_MS + SWAP_MS + STEP_MS, `b waited ${waited} ms`);
  });

  test("requests for the held model queue during the hold and are collated into one swap back", () => {
    const trace = Trace.busy(30_000);
    const b = trace.request("b");
    trace.run(40_000, hammerA);
    const bGranted = trace.grantedAt.get(b)!;
    const heldGrants = [...trace.grantedAt].filter(([id, at]) => id !== b && at > 30_000 && at <= bGranted);
    assert.deepEqual(heldGrants, [], "no new a-request was served between the timeout and b's grant");
    assert.deepEqual(trace.swapTargets, ["b", "a"], "every held a-request rode one swap back to a");
    trace.run(45_000, () => []);
    assert.deepEqual(trace.rig.counters(), IDLE);
  });

  test("a starved request beats higher-priority requests that need the same model stopped", () => {
    const trace = Trace.busy(30_000, { c: 10 });
    const b = trace.request("b");
    trace.run(10_000, hammerA);
    const c = trace.request("c");
    assert.deepEqual(trace.rig.scheduler.snapshot().queued.map((q) => q.id), [c, b]);
    trace.run(50_000, hammerA);
    assert.deepEqual(trace.swapTargets.slice(0, 2), ["b", "c"]);
    assert.ok(trace.grantedAt.get(b)! < trace.grantedAt.get(c)!);
  });

  test("starved requests take turns in arrival order before the busy model comes back", () => {
    const trace = Trace.busy(30_000);
    trace.request("b");
    trace.run(1_000, hammerA);
    trace.request("c");
    trace.run(60_000, hammerA);
    assert.deepEqual(trace.swapTargets.slice(0, 3), ["b", "c", "a"]);
  });

  test("cancelling the starved request lifts the hold at once", () => {
    const trace = Trace.busy(30_000);
    const b = trace.request("b");
    trace.run(30_000, hammerA);
    assert.deepEqual(trace.rig.scheduler.snapshot().starving?.holding, ["a"]);
    const held = trace.request("a");
    assert.equal(trace.grantedAt.has(held), false, "held: a takes no new work");
    trace.rig.cancel(b);
    assert.equal(trace.grantedAt.has(held), true, "the held request is served once the hold lifts");
    assert.equal(trace.rig.scheduler.snapshot().starving, null);
    assert.deepEqual(trace.swapTargets, []);
  });

  test("a timer that fires early is armed again for the same deadline", () => {
    const trace = Trace.busy(30_000);
    trace.request("b");
    trace.rig.now = 29_999;
    trace.rig.scheduler.tick(trace.rig.now);
    assert.equal(trace.rig.world.timer, 30_000);
    assert.equal(trace.rig.scheduler.snapshot().starving, null);
  });

  test("a deadline that passed before the timer fired is honoured by the next event", () => {
    const trace = Trace.busy(30_000);
    trace.request("b");
    trace.rig.now = 45_000; // the timer is late: the next request arrives first
    const late = trace.request("a");
    assert.equal(trace.grantedAt.has(late), false, "the request is held, not served");
  });
});
