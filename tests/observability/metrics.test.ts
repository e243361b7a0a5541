/**
 * /metrics in the Prometheus text format: what a scrape shows after
 * requests, swaps and crashes, read back sample by sample, and accepted by
 * `promtool check metrics` (the linter Prometheus users run).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { ActivityRecord } from "../../src/observability/activity.ts";
import { ModelswapMetrics } from "../../src/observability/metrics.ts";
import { Registry } from "../../src/observability/prometheus.ts";
import type { ModelStatus } from "../../src/router.ts";
import { parseExposition, promtoolCheck, promtoolMissing, sampleValue } from "./exposition.ts";

function record(extra: Partial<ActivityRecord>): ActivityRecord {
  return {
    id: 1,
    time: new Date().toISOString(),
    model: "alpha",
    path: "/v1/chat/completions",
    method: "POST",
    stream: true,
    status: 200,
    durationMs: 420,
    queueWaitMs: 180,
    promptTokens: 12,
    completionTokens: 30,
    tokensPerSecond: 42.5,
    promptTokensPerSecond: 900,
    bytes: 2048,
    error: null,
    ...extra,
  };
}

function status(model: string, extra: Partial<ModelStatus> = {}): ModelStatus {
  return { model, state: "stopped", pid: null, baseUrl: "http://127.0.0.1:5800", inFlight: 0, queued: 0, restarts: 0, lastExit: null, uptimeMs: null, ...extra };
}

/** Metrics after a small, realistic history. */
function scrape(): string {
  const metrics = new ModelswapMetrics("1.2.3");
  metrics.requestEnded(record({}));
  metrics.requestEnded(record({ durationMs: 5, queueWaitMs: 0, completionTokens: 10, tokensPerSecond: 3 }));
  metrics.requestEnded(record({ model: "org/beta \"q\"", status: 503, promptTokens: null, completionTokens: null, tokensPerSecond: null, promptTokensPerSecond: null }));
  metrics.swapFinished("alpha", 1500, true);
  metrics.swapFinished("org/beta \"q\"", 300, false);
  metrics.crashed("alpha");
  return metrics.render(
    [status("alpha", { state: "ready", inFlight: 2, queued: 3, restarts: 4, uptimeMs: 61_000, pid: 42 }), status("org/beta \"q\"")],
    { subscribers: 1, dropped: 7 },
  );
}

describe("Prometheus metrics", () => {
  test("requests, durations, queue wait, tokens and speed read back from the exposition", () => {
    const samples = parseExposition(scrape());
    const alpha = { model: "alpha" };
    assert.equal(sampleValue(samples, "modelswap_requests_total", { ...alpha, route: "/v1/chat/completions", status: "200" }), 2);
    assert.equal(sampleValue(samples, "modelswap_requests_total", { model: 'org/beta "q"', status: "503" }), 1, "label values are escaped and read back intact");
    assert.equal(sampleValue(samples, "modelswap_request_duration_seconds_count", alpha), 2);
    assert.equal(sampleValue(samples, "modelswap_request_duration_seconds_sum", alpha), 0.425);
    assert.equal(sampleValue(samples, "modelswap_request_duration_seconds_bucket", { ...alpha, le: "0.005" }), 1);
    assert.equal(sampleValue(samples, "modelswap_request_duration_seconds_bucket", { ...alpha, le: "0.5" }), 2, "buckets are cumulative");
    assert.equal(sampleValue(samples, "modelswap_request_duration_seconds_bucket", { ...alpha, le: "+Inf" }), 2);
    assert.equal(sampleValue(samples, "modelswap_queue_wait_seconds_sum", alpha), 0.18);
    assert.equal(sampleValue(samples, "modelswap_prompt_tokens_total", alpha), 24);
    assert.equal(sampleValue(samples, "modelswap_completion_tokens_total", alpha), 40);
    assert.equal(sampleValue(samples, "modelswap_generation_tokens_per_second_count", alpha), 2);
    assert.equal(sampleValue(samples, "modelswap_generation_tokens_per_second_bucket", { ...alpha, le: "5" }), 1);
    assert.equal(sampleValue(samples, "modelswap_prompt_tokens_per_second_sum", alpha), 1800);
    assert.equal(sampleValue(samples, "modelswap_build_info", { version: "1.2.3" }), 1);
  });

  test("swaps, state, queue, in-flight, uptime, restarts and crashes per model", () => {
    const samples = parseExposition(scrape());
    assert.equal(sampleValue(samples, "modelswap_swaps_total", { model: "alpha", result: "ok" }), 1);
    assert.equal(sampleValue(samples, "modelswap_swaps_total", { model: 'org/beta "q"', result: "error" }), 1);
    assert.equal(sampleValue(samples, "modelswap_swap_duration_seconds_sum", { model: "alpha" }), 1.5);
    assert.equal(sampleValue(samples, "modelswap_model_state", { model: "alpha", state: "ready" }), 1);
    assert.equal(sampleValue(samples, "modelswap_model_state", { model: "alpha", state: "stopped" }), 0);
    assert.equal(sampleValue(samples, "modelswap_model_state", { model: 'org/beta "q"', state: "stopped" }), 1);
    assert.equal(sampleValue(samples, "modelswap_in_flight_requests", { model: "alpha" }), 2);
    assert.equal(sampleValue(samples, "modelswap_queued_requests", { model: "alpha" }), 3);
    assert.equal(sampleValue(samples, "modelswap_model_uptime_seconds", { model: "alpha" }), 61);
    assert.equal(sampleValue(samples, "modelswap_upstream_restarts_total", { model: "alpha" }), 4);
    assert.equal(sampleValue(samples, "modelswap_upstream_crashes_total", { model: "alpha" }), 1);
    assert.equal(sampleValue(samples, "modelswap_events_dropped_total"), 7);
    assert.equal(sampleValue(samples, "modelswap_event_subscribers"), 1);
  });

  test("every family has HELP and TYPE, and a fresh router's scrape is valid too", () => {
    const text = new ModelswapMetrics("0.0.0").render([status("idle")], { subscribers: 0, dropped: 0 });
    const families = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => m[1]);
    assert.ok(families.length >= 18, `expected every family, got ${families.join(", ")}`);
    for (const family of families) assert.match(text, new RegExp(`^# HELP ${family} \\S`, "m"));
    assert.equal(sampleValue(parseExposition(text), "modelswap_model_state", { model: "idle", state: "stopped" }), 1);
  });

  test("a metric name cannot be registered twice", () => {
    const registry = new Registry();
    registry.counter("x_total", "x");
    assert.throws(() => registry.gauge("x_total", "again"), /registered twice/);
  });

  test("promtool check metrics accepts the exposition", { skip: promtoolMissing() }, async () => {
    for (const text of [scrape(), new ModelswapMetrics("0.0.0").render([], { subscribers: 0, dropped: 0 })]) {
      const result = await promtoolCheck(text);
      assert.equal(result.code, 0, `promtool rejected the metrics:\n${result.output}\n---\n${text}`);
      assert.equal(result.output.trim(), "", `promtool complained:\n${result.output}`);
    }
  });
});
