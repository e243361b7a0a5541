/**
 * The activity ring behind /api/activity: the last N requests (N =
 * metricsMaxInMemory), newest first, with queue wait, tokens and speed
 * taken from the response as it streamed past.
 */
import assert from "node:assert/strict";
import { afterEach, describe, test } from "node:test";
import { LogHub } from "../../src/logging/logger.ts";
import { ActivityLog } from "../../src/observability/activity.ts";
import { Observability } from "../../src/observability/observer.ts";
import { load } from "../config/helpers.ts";
import { parseExposition, sampleValue } from "./exposition.ts";

const encoder = new TextEncoder();
const closers: Array<() => void> = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

function observability(yaml: string) {
  const config = load(yaml).config;
  const obs = new Observability({ router: () => ({ config, status: () => [] }), logs: new LogHub("none", null), version: "t" });
  closers.push(() => obs.close());
  return obs;
}

/** Resolve after `ms` (this test measures waiting itself, so it has to wait). */
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("activity", () => {
  test("the ring keeps the newest N records and filters by model", () => {
    let capacity = 3;
    const log = new ActivityLog(() => capacity);
    const base = { time: "", path: "/v1/chat/completions", method: "POST", stream: false, status: 200, durationMs: 1, queueWaitMs: 0, promptTokens: null, completionTokens: null, tokensPerSecond: null, promptTokensPerSecond: null, bytes: 0, error: null };
    for (let i = 0; i < 5; i++) log.add({ ...base, model: i % 2 ? "odd" : "even" });
    assert.deepEqual(log.recent().map((r) => r.id), [5, 4, 3]);
    assert.deepEqual(log.recent(2).map((r) => r.id), [5, 4]);
    assert.deepEqual(log.recent(Infinity, "odd").map((r) => r.id), [4]);
    capacity = 1;
    log.add({ ...base, model: "even" });
    assert.deepEqual(log.recent().map((r) => r.id), [6], "a lower capacity (config reload) applies at the next insert");
  });

  test("a streamed request is recorded with its wait, duration, tokens and llama-server's speed", async () => {
    const obs = observability("models:\n  m:\n    cmd: x --port ${PORT}\n");
    const request = obs.request({ model: "m", path: "/v1/chat/completions", method: "POST", stream: true });
    await pause(30);
    request.granted();
    const body = 'data: {"choices":[{"delta":{"content":"hi"}}]}\n\n' +
      'data: {"choices":[],"usage":{"prompt_tokens":11,"completion_tokens":22},"timings":{"predicted_per_second":33.3,"prompt_per_second":444}}\n\ndata: [DONE]\n\n';
    for (const piece of body.match(/[^]{1,17}/g)!) request.chunk(encoder.encode(piece));
    request.end({ status: 200, bytes: body.length });
    request.end({ status: 500, bytes: 0 }); // a second end is ignored
    const [record] = obs.activity.recent();
    assert.equal(obs.activity.recent().length, 1);
    assert.equal(record.model, "m");
    assert.equal(record.stream, true);
    assert.equal(record.status, 200);
    assert.ok(record.queueWaitMs >= 25, `queue wait ${record.queueWaitMs}`);
    assert.ok(record.durationMs >= record.queueWaitMs);
    assert.equal(record.promptTokens, 11);
    assert.equal(record.completionTokens, 22);
    assert.equal(record.tokensPerSecond, 33.3);
    assert.equal(record.promptTokensPerSecond, 444);
    assert.equal(record.bytes, body.length);
    assert.match(record.time, /^\d{4}-\d\d-\d\dT/);
    const samples = parseExposition(obs.renderMetrics());
    assert.equal(sampleValue(samples, "modelswap_completion_tokens_total", { model: "m" }), 22);
    assert.equal(sampleValue(samples, "modelswap_requests_total", { model: "m", status: "200" }), 1);
  });

  test("without llama-server timings, speed is generated tokens over the streaming time", async () => {
    const obs = observability("models:\n  m:\n    cmd: x --port ${PORT}\n");
    const request = obs.request({ model: "m", path: "/v1/chat/completions", method: "POST", stream: true });
    request.granted();
    request.chunk(encoder.encode('data: {"choices":[{"delta":{"content":"a"}}]}\n\n'));
    await pause(100);
    request.chunk(encoder.encode('data: {"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":10}}\n\n'));
    request.end({ status: 200, bytes: 10 });
    const speed = obs.activity.recent()[0].tokensPerSecond!;
    assert.ok(speed > 10 && speed <= 100, `10 tokens over ~100 ms should be about 100 tok/s, got ${speed}`);
  });

  test("a request that failed while waiting is recorded with its error; capacity follows metricsMaxInMemory", () => {
    const obs = observability("metricsMaxInMemory: 2\nmodels:\n  m:\n    cmd: x --port ${PORT}\n");
    for (let i = 0; i < 3; i++) {
      obs.request({ model: "m", path: "/v1/completions", method: "POST", stream: false })
        .end({ status: 502, bytes: 0, error: `model "m" failed to start (${i})` });
    }
    const records = obs.activity.recent();
    assert.equal(records.length, 2);
    assert.equal(records[0].error, 'model "m" failed to start (2)');
    assert.equal(records[0].promptTokens, null);
    assert.equal(records[0].tokensPerSecond, null);
  });
});
