/**
 * The live feed behind /api/events: a snapshot first, then changes; a
 * subscriber that stops reading loses messages (counted, never logged) and
 * is resynchronised with a fresh snapshot, while publishing never waits.
 */
import assert from "node:assert/strict";
import { afterEach, describe, test } from "node:test";
import type { Config } from "../../src/config/schema.ts";
import { LogHub, Logger } from "../../src/logging/logger.ts";
import { EventFeed } from "../../src/observability/events.ts";
import { Observability } from "../../src/observability/observer.ts";
import type { ModelStatus } from "../../src/router.ts";
import { load } from "../config/helpers.ts";
import { SseReader } from "./sse.ts";

const readers: SseReader[] = [];
const closers: Array<() => void> = [];
afterEach(async () => {
  for (const reader of readers.splice(0)) await reader.close();
  for (const close of closers.splice(0)) close();
});

function read(stream: ReadableStream<Uint8Array>): SseReader {
  const reader = new SseReader(stream);
  readers.push(reader);
  return reader;
}

/** A stand-in router: a real config, and statuses the test sets. */
function fakeRouter(yaml: string) {
  const config: Config = load(yaml).config;
  const statuses = new Map<string, ModelStatus>(Object.keys(config.models).map((model) => [model, {
    model,
    state: "stopped",
    pid: null,
    baseUrl: "",
    inFlight: 0,
    queued: 0,
    restarts: 0,
    lastExit: null,
    uptimeMs: null,
  }]));
  return { config, statuses, status: () => [...statuses.values()] };
}

function observability(yaml = "models:\n  alpha:\n    cmd: a --port ${PORT}\n    aliases: [a]\n") {
  const router = fakeRouter(yaml);
  const logs = new LogHub("proxy", null);
  const obs = new Observability({ router: () => router, logs, version: "9.9.9" });
  closers.push(() => obs.close());
  return { obs, router, logs, log: new Logger(logs.proxy) };
}

describe("EventFeed", () => {
  test("a subscriber gets the snapshot first, then events in order", async () => {
    let state = "before";
    const feed = new EventFeed(() => ({ state }));
    closers.push(() => feed.close());
    const reader = read(feed.subscribe());
    state = "after";
    feed.publish("one", { n: 1 });
    feed.publish("two", { n: 2 });
    assert.deepEqual(await reader.next(), { event: "snapshot", data: { state: "before" } });
    assert.deepEqual(await reader.next(), { event: "one", data: { n: 1 } });
    assert.deepEqual(await reader.next(), { event: "two", data: { n: 2 } });
    assert.equal(feed.subscribers, 1);
  });

  test("a subscriber that does not read loses messages instead of holding up the publisher, then is resynchronised", async () => {
    let version = 0;
    const feed = new EventFeed(() => ({ version }), { maxBufferedBytes: 4096 });
    closers.push(() => feed.close());
    const slow = read(feed.subscribe());
    const payload = "x".repeat(200);
    const started = performance.now();
    for (let i = 0; i < 2000; i++) feed.publish("tick", { i, payload });
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 1000, `publishing 2000 events took ${elapsed.toFixed(0)} ms`);
    assert.ok(feed.dropped > 1900, `expected most messages dropped, got ${feed.dropped}`);
    // The subscriber catches up a little: what fitted in its buffer was kept, in order.
    assert.equal((await slow.next()).event, "snapshot");
    for (let i = 0; i < 10; i++) assert.deepEqual((await slow.next()).data.i, i);
    version = 1;
    feed.publish("tick", { i: 2000, payload });
    const { found, before } = await slow.until((m) => m.data.i === 2000);
    assert.deepEqual(before.map((m) => m.event).slice(-2), ["dropped", "snapshot"], "a dropped notice and a fresh snapshot come before the next event");
    assert.ok(before.at(-2)!.data.messages > 1900);
    assert.deepEqual(before.at(-1)!.data, { version: 1 });
    assert.equal(found.event, "tick");
  });

  test("cancelling a subscription removes it", async () => {
    const feed = new EventFeed(() => ({}));
    closers.push(() => feed.close());
    const reader = read(feed.subscribe());
    await reader.next();
    await reader.close();
    assert.equal(feed.subscribers, 0);
    feed.publish("after", {});
  });
});

describe("Observability events", () => {
  test("the snapshot lists every model with its names and status", async () => {
    const { obs } = observability("models:\n  alpha:\n    cmd: a --port ${PORT}\n    name: Alpha 7B\n    aliases: [a]\n  zeta/q4:\n    cmd: z --port ${PORT}\n    unlisted: true\n");
    const reader = read(obs.events.subscribe());
    const { event, data } = await reader.next();
    assert.equal(event, "snapshot");
    assert.equal(data.version, "9.9.9");
    assert.deepEqual(data.models.map((m: { model: string }) => m.model), ["alpha", "zeta/q4"]);
    assert.equal(data.models[0].name, "Alpha 7B");
    assert.deepEqual(data.models[0].aliases, ["a"]);
    assert.equal(data.models[1].unlisted, true);
    assert.deepEqual(data.activity, []);
  });

  test("a state change is sent at once with the new model list; swaps carry the planner's reason", async () => {
    const { obs, router } = observability();
    const reader = read(obs.events.subscribe());
    await reader.next();
    obs.swapStarted({ id: 1, target: "alpha", evict: ["beta"], reason: "group=g evict=[beta]" });
    router.statuses.get("alpha")!.state = "starting";
    obs.modelState("alpha", "stopped", "starting");
    assert.deepEqual(await reader.next(), { event: "swap", data: { phase: "started", id: 1, target: "alpha", evict: ["beta"], reason: "group=g evict=[beta]" } });
    assert.deepEqual(await reader.next(), { event: "state", data: { model: "alpha", from: "stopped", to: "starting" } });
    const models = await reader.next();
    assert.equal(models.event, "models");
    assert.equal(models.data[0].state, "starting");
    obs.swapFinished({ id: 1, target: "alpha", evict: ["beta"], reason: "group=g evict=[beta]" }, 1234, null);
    const finished = await reader.next();
    assert.equal(finished.data.phase, "finished");
    assert.equal(finished.data.durationMs, 1234);
    assert.equal(finished.data.error, null);
  });

  test("queue and in-flight changes are coalesced to at most one update per 250 ms", async () => {
    const { obs, router } = observability();
    const reader = read(obs.events.subscribe());
    await reader.next();
    const started = Date.now();
    const times: number[] = [];
    const collecting = (async () => {
      for (;;) {
        const message = await reader.next(2000).catch(() => null);
        if (!message) return;
        if (message.event === "models") times.push(Date.now() - started);
        if (message.data[0]?.queued === 200) return;
      }
    })();
    for (let i = 1; i <= 200; i++) {
      router.statuses.get("alpha")!.queued = i;
      obs.loadChanged();
      await new Promise((resolve) => setTimeout(resolve, 3));
    }
    await collecting;
    const span = Date.now() - started;
    assert.ok(times.length >= 2, `expected updates while the load changed, got ${times.length}`);
    assert.ok(times.length <= Math.ceil(span / 250) + 1, `${times.length} updates in ${span} ms: not coalesced`);
    for (let i = 1; i < times.length; i++) assert.ok(times[i] - times[i - 1] >= 240, `updates ${times[i] - times[i - 1]} ms apart`);
  });

  test("router log lines reach subscribers that want them, and only those", async () => {
    const { obs, log, logs } = observability();
    const withLogs = read(obs.events.subscribe());
    const withoutLogs = read(obs.events.subscribe({ logs: false }));
    await withLogs.next();
    await withoutLogs.next();
    log.info("swap to alpha (reason)");
    obs.crashed("alpha", "exited with code 3");
    const line = await withLogs.next();
    assert.equal(line.event, "log");
    assert.equal(line.data.source, "proxy");
    assert.match(line.data.text, /INFO {2}swap to alpha \(reason\)\n$/);
    assert.equal((await withoutLogs.next()).event, "crash", "the log line was not sent to the subscriber without logs");
    logs.model("alpha").write("model output line\n");
    assert.equal((await withLogs.next()).event, "crash");
  });

  test("dropped messages are counted in /metrics and never logged (llama-swap #1042)", () => {
    const { obs, logs } = observability();
    read(obs.events.subscribe()); // never read
    const before = logs.proxy.history();
    for (let i = 0; i < 20_000; i++) obs.events.publish("tick", { i, pad: "y".repeat(100) });
    assert.ok(obs.events.dropped > 0);
    assert.match(obs.renderMetrics(), new RegExp(`^modelswap_events_dropped_total ${obs.events.dropped}$`, "m"));
    assert.equal(logs.proxy.history(), before, "nothing was logged about the drops");
  });
});
