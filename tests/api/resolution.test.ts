/**
 * The pure decisions behind the request pipeline, checked exhaustively
 * without processes: JSON-path filters, which peer a name reaches, and the
 * spillover selector's choices (reference §5.1, §5.3, §5.4).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseConfig } from "../../src/config/load.ts";
import { applyJsonFilters, deleteJsonPath, setJsonPath, splitJsonPath } from "../../src/http/filters.ts";
import { resolvePeerModel } from "../../src/http/peers.ts";
import { chooseSelectorTarget, SelectorReservations } from "../../src/http/selectors.ts";
import type { ModelState } from "../../src/upstream/state.ts";

const load = (yaml: string) => parseConfig(yaml, { env: {}, selfArgv: ["modelswap"] }).config;

describe("JSON-path filters", () => {
  test("paths address nested fields; a backslash keeps a dot literal", () => {
    assert.deepEqual(splitJsonPath("a.b\\.c.d"), ["a", "b.c", "d"]);
    const body: Record<string, unknown> = { a: 1, list: [1, 2, 3], keep: { x: 1 } };
    setJsonPath(body, "a.b", true);
    setJsonPath(body, "new.deep.value", 2);
    setJsonPath(body, "list.1", "two");
    setJsonPath(body, "dotted\\.key", 3);
    assert.deepEqual(body, { a: { b: true }, list: [1, "two", 3], keep: { x: 1 }, new: { deep: { value: 2 } }, "dotted.key": 3 });
    assert.equal(deleteJsonPath(body, "keep.x"), true);
    assert.equal(deleteJsonPath(body, "list.0"), true);
    assert.equal(deleteJsonPath(body, "missing.path"), false);
    assert.deepEqual(body.keep, {});
    assert.deepEqual(body.list, ["two", 3]);
  });

  test("strip, then set (sorted), then setParamsByID; model is protected; the config's values are never shared", () => {
    const config = load(`
models:
  m:
    cmd: server
    proxy: http://127.0.0.1:9
    filters:
      stripParams: "b, a.x, model"
      setParams: { a.y: 1, b: set }
      setParamsByID:
        m-variant: { a.y: 2, model: other }
`);
    const filters = config.models.m.filters;
    const plain = { model: "m", a: { x: 1 }, b: "client" };
    assert.equal(applyJsonFilters(plain, filters, "m"), true);
    assert.deepEqual(plain, { model: "m", a: { y: 1 }, b: "set" });
    const variant: Record<string, unknown> = { model: "m-variant" };
    applyJsonFilters(variant, filters, "m-variant");
    assert.deepEqual(variant, { model: "m-variant", a: { y: 2 }, b: "set" });
    (variant.a as Record<string, unknown>).y = 99;
    assert.deepEqual(filters.setParamsByID["m-variant"], { "a.y": 2 }, "a model set by a filter is dropped at load (llama-swap does too)");
    const untouched = { model: "m", c: 1 };
    const noFilters = load("models: { n: { cmd: server, proxy: 'http://127.0.0.1:9' } }").models.n.filters;
    assert.equal(applyJsonFilters(untouched, noFilters, "n"), false);
  });
});

describe("peer names", () => {
  const config = load(`
peers:
  p1: { proxy: "http://127.0.0.1:1", models: [model, only-p1] }
  p2: { proxy: "http://127.0.0.1:2", models: [model, p1/model, org/x] }
`);
  test("full names reach their peer; a bare name only when exactly one peer lists it", () => {
    assert.equal(resolvePeerModel(config, "p1/model")?.peerId, "p1", "an FQN beats p2's model literally named p1/model");
    assert.equal(resolvePeerModel(config, "p1/model")?.model, "model");
    assert.equal(resolvePeerModel(config, "p2/p1/model")?.model, "p1/model");
    assert.equal(resolvePeerModel(config, "only-p1")?.fqn, "p1/only-p1");
    assert.equal(resolvePeerModel(config, "org/x")?.fqn, "p2/org/x");
    assert.equal(resolvePeerModel(config, "model"), undefined, "listed by two peers: ambiguous");
    assert.equal(resolvePeerModel(config, "p3/model"), undefined);
  });
});

describe("spillover selector", () => {
  const config = load(`
models:
  a: { cmd: server, proxy: "http://127.0.0.1:1" }
  b: { cmd: server, proxy: "http://127.0.0.1:2" }
  c: { cmd: server, proxy: "http://127.0.0.1:3" }
selectors:
  pool: { strategy: spillover, targets: [a, b, c], settings: { spillover: 2 } }
groups:
  all: { swap: false, members: [a, b, c] }
`);

  test("fills a target up to `spillover`, then the next cold one; a released slot goes to the least busy", () => {
    const states = new Map<string, ModelState>();
    const reservations = new SelectorReservations();
    const pick = () => chooseSelectorTarget(config, "pool", (id) => states.get(id) ?? "stopped", reservations)!;
    const first = pick();
    assert.equal(first.target, "a");
    states.set("a", "starting");
    assert.equal(pick().target, "a");
    assert.equal(pick().target, "b");
    first.release();
    first.release();
    states.set("a", "ready").set("b", "ready").set("c", "ready");
    assert.equal(pick().target, "c", "a and b hold one reservation each, c none");
    assert.equal(reservations.count("pool", "a"), 1, "a second release changes nothing");
  });

  test("targets on their way out are skipped; none usable is a 503", () => {
    const reservations = new SelectorReservations();
    const states = new Map<string, ModelState>([["a", "stopping"], ["b", "failed"]]);
    assert.equal(chooseSelectorTarget(config, "pool", (id) => states.get(id) ?? "stopped", reservations)?.target, "c");
    states.set("c", "stopping");
    assert.throws(
      () => chooseSelectorTarget(config, "pool", (id) => states.get(id), reservations),
      (error: Error & { status?: number }) => error.status === 503 && /selector "pool" has no available spillover targets/.test(error.message),
    );
  });

  test("names that are not selectors are left alone", () => {
    assert.equal(chooseSelectorTarget(config, "a", () => "ready", new SelectorReservations()), null);
  });
});
