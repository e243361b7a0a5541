/**
 * Token counts and speeds are read from responses as they stream past,
 * whatever the chunking, without holding whole responses.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { lastObjectAfterKey, UsageScanner } from "../../src/observability/usage.ts";

const encoder = new TextEncoder();

/** Feed `text` in pieces of `size` bytes (1 = the worst possible chunking). */
function scan(text: string, size = Infinity) {
  const scanner = new UsageScanner();
  const bytes = encoder.encode(text);
  const step = Math.min(size, bytes.length) || 1;
  for (let i = 0; i < bytes.length; i += step) scanner.push(bytes.slice(i, i + step));
  return scanner.finish();
}

const sse = (...events: unknown[]) => events.map((e) => `data: ${typeof e === "string" ? e : JSON.stringify(e)}\n\n`).join("");

describe("UsageScanner", () => {
  test("an OpenAI JSON answer gives its usage", () => {
    const body = JSON.stringify({ choices: [{ message: { content: "hi" } }], usage: { prompt_tokens: 12, completion_tokens: 34, total_tokens: 46 } });
    assert.deepEqual(scan(body), { promptTokens: 12, completionTokens: 34, promptPerSecond: null, generationPerSecond: null });
  });

  test("llama-server's timings give the speeds; usage keeps its counts", () => {
    const body = JSON.stringify({
      usage: { prompt_tokens: 100, completion_tokens: 20 },
      timings: { prompt_n: 4, predicted_n: 20, prompt_per_second: 812.5, predicted_per_second: 41.25 },
    });
    assert.deepEqual(scan(body), { promptTokens: 100, completionTokens: 20, promptPerSecond: 812.5, generationPerSecond: 41.25 });
  });

  test("a stream split at every byte still yields usage and timings from its last events", () => {
    const stream = sse(
      { choices: [{ delta: { content: "Hel" } }], usage: null },
      { choices: [{ delta: { content: "lo ✓" } }], usage: null },
      { choices: [{ delta: {}, finish_reason: "stop" }], timings: { prompt_n: 5, predicted_n: 2, predicted_per_second: 55.5, prompt_per_second: 900 } },
      { choices: [], usage: { prompt_tokens: 9, completion_tokens: 2 } },
      "[DONE]",
    );
    const expected = { promptTokens: 9, completionTokens: 2, promptPerSecond: 900, generationPerSecond: 55.5 };
    assert.deepEqual(scan(stream, 1), expected);
    assert.deepEqual(scan(stream, 7), expected);
    assert.deepEqual(scan(stream), expected);
  });

  test("a stream with only timings counts tokens from them", () => {
    const stream = sse({ choices: [{ delta: {} }], timings: { prompt_n: 3, predicted_n: 8, predicted_per_second: 20 } }, "[DONE]");
    assert.deepEqual(scan(stream, 5), { promptTokens: 3, completionTokens: 8, promptPerSecond: null, generationPerSecond: 20 });
  });

  test("Anthropic streams (input in message_start, output in message_delta) and the Responses API", () => {
    const anthropic = "event: message_start\n" + sse({ type: "message_start", message: { usage: { input_tokens: 25, output_tokens: 1 } } }) +
      "event: message_delta\n" + sse({ type: "message_delta", usage: { output_tokens: 15 } });
    assert.deepEqual(scan(anthropic, 3), { promptTokens: 25, completionTokens: 15, promptPerSecond: null, generationPerSecond: null });
    const responses = sse({ type: "response.completed", response: { usage: { input_tokens: 7, output_tokens: 70 } } });
    assert.deepEqual(scan(responses), { promptTokens: 7, completionTokens: 70, promptPerSecond: null, generationPerSecond: null });
  });

  test("an over-long line (a huge delta) is skipped without losing the usage after it", () => {
    const stream = sse({ choices: [{ delta: { content: "x".repeat(200_000) } }], usage: { prompt_tokens: 1, completion_tokens: 1 } }, {
      choices: [],
      usage: { prompt_tokens: 4, completion_tokens: 5000 },
    });
    assert.deepEqual(scan(stream, 4096), { promptTokens: 4, completionTokens: 5000, promptPerSecond: null, generationPerSecond: null });
  });

  test("a JSON body larger than the tail window is read from its end", () => {
    const body = JSON.stringify({ data: [{ embedding: Array.from({ length: 40_000 }, (_, i) => i / 7) }], usage: { prompt_tokens: 321, total_tokens: 321 } });
    assert.ok(body.length > 200_000);
    assert.deepEqual(scan(body, 16_384), { promptTokens: 321, completionTokens: null, promptPerSecond: null, generationPerSecond: null });
  });

  test("/infill's array answer: the last element's timings count", () => {
    const body = JSON.stringify([{ content: "a" }, { content: "b", timings: { prompt_n: 6, predicted_n: 3, predicted_per_second: 12 } }]);
    assert.deepEqual(scan(body), { promptTokens: 6, completionTokens: 3, promptPerSecond: null, generationPerSecond: 12 });
  });

  test("answers without token facts (errors, audio) give nulls", () => {
    const empty = { promptTokens: null, completionTokens: null, promptPerSecond: null, generationPerSecond: null };
    assert.deepEqual(scan(JSON.stringify({ error: { message: "nope" } })), empty);
    assert.deepEqual(scan("RIFF....WAVEfmt "), empty);
    assert.deepEqual(scan(""), empty);
  });

  test("lastObjectAfterKey finds the balanced object, braces in strings included", () => {
    const text = `..."usage": {"a": "}{", "b": {"c": 1}}, "x": 2}`;
    assert.deepEqual(lastObjectAfterKey(text, "usage"), { a: "}{", b: { c: 1 } });
    assert.equal(lastObjectAfterKey(`"usage": null`, "usage"), null);
    assert.equal(lastObjectAfterKey(`"usage": {"a": 1`, "usage"), null);
  });
});
