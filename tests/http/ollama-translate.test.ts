/**
 * The Ollama translation as pure functions: `keep_alive` durations,
 * `options`, request bodies into OpenAI ones, whole answers and event
 * streams back into Ollama's shapes, the SSE reader's bounds, and error
 * bodies. No router, no I/O.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ModelswapError } from "../../src/errors.ts";
import { completionAnswer, embeddingAnswer, type Json, type RequestTimes } from "../../src/http/ollama/answers.ts";
import { errorMessage, ollamaError } from "../../src/http/ollama/errors.ts";
import { keepAliveMs, MAX_KEEP_ALIVE_MS } from "../../src/http/ollama/keep-alive.ts";
import { samplingParams } from "../../src/http/ollama/options.ts";
import { chatRequest, embeddingsRequest, embedRequest, generateRequest } from "../../src/http/ollama/requests.ts";
import { SseReader } from "../../src/http/ollama/sse-reader.ts";
import { MAX_EVENT_CHARS, MAX_TOOL_CALL_CHARS, ollamaStream, StreamTranslator } from "../../src/http/ollama/stream.ts";

/** Asserts `run` throws a ModelswapError with this status and a message matching `message`. */
function refuses(run: () => unknown, status: number, message: RegExp): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof ModelswapError, String(error));
    assert.equal(error.status, status);
    assert.match(error.message, message);
    return true;
  });
}

/** Request times 10 ms of waiting for the model ago. */
function times(): RequestTimes {
  const now = performance.now();
  return { started: now - 20, granted: now - 10 };
}

/** SSE text for OpenAI chunks (objects) and raw data strings. */
function sse(...events: Array<Json | string>): string {
  return events.map((event) => `data: ${typeof event === "string" ? event : JSON.stringify(event)}\n\n`).join("");
}

const delta = (fields: Json, finish: string | null = null): Json => ({ choices: [{ index: 0, delta: fields, finish_reason: finish }] });
const TIMINGS = { cache_n: 3, prompt_n: 7, prompt_ms: 12.5, predicted_n: 4, predicted_ms: 40 };

describe("keep_alive", () => {
  test("numbers are seconds, strings Go durations; 0 unloads, negative keeps for ever", () => {
    assert.equal(keepAliveMs(undefined), undefined);
    assert.equal(keepAliveMs(null), undefined);
    assert.equal(keepAliveMs(300), 300_000);
    assert.equal(keepAliveMs(1.5), 1500);
    assert.equal(keepAliveMs(0), 0);
    assert.equal(keepAliveMs(-1), -1);
    assert.equal(keepAliveMs("5m"), 300_000);
    assert.equal(keepAliveMs("1h30m"), 5_400_000);
    assert.equal(keepAliveMs("1.5h"), 5_400_000);
    assert.equal(keepAliveMs("300ms"), 300);
    assert.equal(keepAliveMs("2m3.5s"), 123_500);
    assert.equal(keepAliveMs("0"), 0);
    assert.equal(keepAliveMs("0s"), 0);
    assert.equal(keepAliveMs("10"), 10_000, "a number in a string is seconds too");
    assert.equal(keepAliveMs("-1"), -1);
    assert.equal(keepAliveMs("-5m"), -1);
  });

  test("a time beyond what a timer can wait is for ever", () => {
    assert.equal(keepAliveMs(MAX_KEEP_ALIVE_MS / 1000), MAX_KEEP_ALIVE_MS);
    assert.equal(keepAliveMs("1000h"), -1);
    assert.equal(keepAliveMs(1e300), -1);
  });

  test("anything else is a 400 that says what a duration looks like", () => {
    for (const bad of ["soon", "5 m", "", "5x", "m", "1h-5m", "x".repeat(65), {}, true, [1], Number.NaN]) {
      refuses(() => keepAliveMs(bad), 400, /keep_alive .* is not a duration: send seconds as a number/);
    }
  });
});

describe("options", () => {
  test("sampling options become the request's fields; load-time and unknown ones are ignored", () => {
    assert.deepEqual(
      samplingParams({
        temperature: 0.2,
        top_p: 0.9,
        top_k: 40,
        min_p: 0.05,
        seed: 7,
        num_predict: 64,
        stop: ["\n\n", "User:"],
        repeat_penalty: 1.1,
        presence_penalty: 0.5,
        frequency_penalty: 0.25,
        num_keep: 5,
        num_ctx: 8192,
        num_gpu: 99,
        penalize_newline: true,
        whatever: "x",
      }),
      {
        temperature: 0.2,
        top_p: 0.9,
        top_k: 40,
        min_p: 0.05,
        seed: 7,
        max_tokens: 64,
        stop: ["\n\n", "User:"],
        repeat_penalty: 1.1,
        presence_penalty: 0.5,
        frequency_penalty: 0.25,
        n_keep: 5,
      },
    );
    assert.deepEqual(samplingParams(undefined), {});
    assert.deepEqual(samplingParams({ num_predict: -1, temperature: null }), {}, "-1 (no limit) and null set nothing");
    assert.deepEqual(samplingParams({ num_predict: -2 }), {});
    assert.deepEqual(samplingParams({ stop: "END" }), { stop: ["END"] });
  });

  test("a known option of the wrong type is a 400 naming it", () => {
    refuses(() => samplingParams({ temperature: "hot" }), 400, /option "temperature" must be a number \(got string\)/);
    refuses(() => samplingParams({ num_predict: [1] }), 400, /option "num_predict" must be a number \(got an array\)/);
    refuses(() => samplingParams({ stop: [1] }), 400, /option "stop" must be a string or a list of strings/);
  });
});

describe("requests", () => {
  const PNG = "iVBORw0KGgoAAAANSUhEUgAAAAE";
  const JPEG = "/9j/4AAQSkZJRgABAQ";

  test("chat: messages, images as content parts, tools, format, think and options, streamed by default", () => {
    const tool = { type: "function", function: { name: "weather", parameters: { type: "object" } } };
    const request = chatRequest({
      model: "m:latest",
      messages: [
        { role: "system", content: "Be brief" },
        { role: "user", content: "What is this?", images: [PNG, JPEG] },
        { role: "assistant", content: "", thinking: "hmm", tool_calls: [{ function: { name: "weather", arguments: { city: "Paris" } } }, { function: { name: "time", arguments: {} } }] },
        { role: "tool", content: "3 pm", tool_name: "time" },
        { role: "tool", content: "sunny", tool_name: "weather" },
      ],
      tools: [tool],
      format: "json",
      think: true,
      keep_alive: "5m",
      options: { temperature: 0.5, num_predict: 10 },
    });
    assert.equal(request.path, "/v1/chat/completions");
    assert.equal(request.model, "m:latest");
    assert.equal(request.stream, true);
    assert.equal(request.keepAliveMs, 300_000);
    assert.equal(request.kind, "chat");
    assert.equal(request.empty, false);
    assert.deepEqual(request.body, {
      model: "m:latest",
      messages: [
        { role: "system", content: "Be brief" },
        {
          role: "user",
          content: [
            { type: "text", text: "What is this?" },
            { type: "image_url", image_url: { url: `data:image/png;base64,${PNG}` } },
            { type: "image_url", image_url: { url: `data:image/jpeg;base64,${JPEG}` } },
          ],
        },
        {
          role: "assistant",
          content: "",
          reasoning_content: "hmm",
          tool_calls: [
            { id: "call_2_0", type: "function", function: { name: "weather", arguments: '{"city":"Paris"}' } },
            { id: "call_2_1", type: "function", function: { name: "time", arguments: "{}" } },
          ],
        },
        { role: "tool", content: "3 pm", tool_call_id: "call_2_1" },
        { role: "tool", content: "sunny", tool_call_id: "call_2_0" },
      ],
      tools: [tool],
      temperature: 0.5,
      max_tokens: 10,
      response_format: { type: "json_object" },
      chat_template_kwargs: { enable_thinking: true },
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  test("chat: a JSON schema format, a thinking level, stream: false; nulls mean unset; no messages only loads", () => {
    const schema = { type: "object", properties: { a: { type: "string" } } };
    const request = chatRequest({ model: "m", messages: null, stream: false, format: schema, think: "high", options: null, keep_alive: 0 });
    assert.equal(request.empty, true);
    assert.equal(request.keepAliveMs, 0);
    assert.deepEqual(request.body, {
      model: "m",
      messages: [],
      response_format: { type: "json_schema", json_schema: { name: "response", schema } },
      chat_template_kwargs: { enable_thinking: true },
      reasoning_effort: "high",
      stream: false,
    });
    assert.deepEqual(chatRequest({ model: "m", messages: [], think: false }).body.chat_template_kwargs, { enable_thinking: false });
  });

  test("a tool message answers by tool_call_id when it has one, else by name, else the earliest open call", () => {
    const request = chatRequest({
      model: "m",
      messages: [
        { role: "assistant", content: "", tool_calls: [{ id: "a", function: { name: "f" } }, { id: "b", function: { name: "f" } }, { id: "c", function: { name: "g" } }] },
        { role: "tool", content: "2", tool_call_id: "b" },
        { role: "tool", content: "1", tool_name: "f" },
        { role: "tool", content: "3" },
      ],
    });
    const ids = (request.body.messages as Json[]).slice(1).map((message) => message.tool_call_id);
    assert.deepEqual(ids, ["b", "a", "c"]);
  });

  test("malformed bodies are a 400 naming the field", () => {
    refuses(() => chatRequest({ messages: [] }), 400, /^model is required$/);
    refuses(() => chatRequest({ model: "", messages: [] }), 400, /^model is required$/);
    refuses(() => chatRequest({ model: "m", messages: "hi" }), 400, /invalid field "messages": .*expected array/);
    refuses(() => chatRequest({ model: "m", messages: [{ role: "user", content: 5 }] }), 400, /invalid field "messages\[0\]\.content"/);
    refuses(() => chatRequest({ model: "m", format: "yaml" }), 400, /invalid field "format"/);
    refuses(() => chatRequest({ model: "m", think: "max" }), 400, /invalid field "think"/);
    refuses(() => chatRequest({ model: "m", stream: "yes" }), 400, /invalid field "stream"/);
    refuses(() => chatRequest({ model: "m", keep_alive: "soon" }), 400, /keep_alive "soon"/);
    refuses(() => embedRequest({ model: "m", input: [1, 2] }), 400, /invalid field "input"/);
  });

  test("generate: system and prompt as chat messages with images; raw as a completion; suffix refused", () => {
    const request = generateRequest({ model: "m", prompt: "Describe", system: "Be brief", images: [PNG], stream: false, options: { seed: 1 } });
    assert.equal(request.path, "/v1/chat/completions");
    assert.equal(request.kind, "generate");
    assert.deepEqual(request.body, {
      model: "m",
      seed: 1,
      stream: false,
      messages: [
        { role: "system", content: "Be brief" },
        { role: "user", content: [{ type: "text", text: "Describe" }, { type: "image_url", image_url: { url: `data:image/png;base64,${PNG}` } }] },
      ],
    });
    const raw = generateRequest({ model: "m", prompt: "<s>[INST] hi [/INST]", raw: true });
    assert.equal(raw.path, "/v1/completions");
    assert.deepEqual(raw.body, { model: "m", prompt: "<s>[INST] hi [/INST]", stream: true, stream_options: { include_usage: true } });
    assert.equal(generateRequest({ model: "m" }).empty, true);
    assert.equal(generateRequest({ model: "m", prompt: "", images: [PNG] }).empty, false);
    refuses(() => generateRequest({ model: "m", prompt: "def f(", suffix: "return x" }), 400, /suffix .* \/infill/);
    refuses(() => generateRequest({ model: "m", prompt: "x", raw: true, images: [PNG] }), 400, /raw prompts cannot carry images/);
  });

  test("embed and embeddings ask for float vectors", () => {
    assert.deepEqual(embedRequest({ model: "m", input: "one", dimensions: 4 }).body, { model: "m", input: ["one"], encoding_format: "float", dimensions: 4 });
    assert.deepEqual(embedRequest({ model: "m", input: ["a", "b"] }).body, { model: "m", input: ["a", "b"], encoding_format: "float" });
    assert.equal(embedRequest({ model: "m", input: "" }).empty, true);
    assert.equal(embedRequest({ model: "m", input: [] }).empty, true);
    const legacy = embeddingsRequest({ model: "m", prompt: "one", keep_alive: -1 });
    assert.deepEqual(legacy.body, { model: "m", input: ["one"], encoding_format: "float" });
    assert.equal(legacy.keepAliveMs, -1);
    assert.equal(legacy.kind, "embeddings");
    assert.equal(embeddingsRequest({ model: "m" }).empty, true);
  });
});

describe("whole answers", () => {
  test("a chat completion: message with thinking and tool calls, counts and ns durations from timings", () => {
    const answer = completionAnswer("chat", "m", {
      choices: [{
        index: 0,
        finish_reason: "tool_calls",
        message: {
          role: "assistant",
          content: "",
          reasoning_content: "Let me look",
          tool_calls: [{ id: "call_1", type: "function", function: { name: "weather", arguments: '{"city":"Paris"}' } }, { type: "function", function: { name: "bad", arguments: "{not json" } }],
        },
      }],
      usage: { prompt_tokens: 10, completion_tokens: 4 },
      timings: TIMINGS,
    }, times());
    assert.deepEqual(answer.message, {
      role: "assistant",
      content: "",
      thinking: "Let me look",
      tool_calls: [
        { id: "call_1", function: { index: 0, name: "weather", arguments: { city: "Paris" } } },
        { function: { index: 1, name: "bad", arguments: "{not json" } },
      ],
    });
    assert.equal(answer.model, "m");
    assert.equal(answer.done, true);
    assert.equal(answer.done_reason, "stop");
    assert.equal(answer.prompt_eval_count, 7, "the prompt tokens llama-server evaluated, as Ollama counts them");
    assert.equal(answer.prompt_eval_duration, 12_500_000);
    assert.equal(answer.eval_count, 4);
    assert.equal(answer.eval_duration, 40_000_000);
    assert.ok((answer.load_duration as number) >= 10_000_000 && (answer.load_duration as number) < 11_000_000);
    assert.ok((answer.total_duration as number) >= 20_000_000);
    assert.ok(Number.isInteger(answer.total_duration) && Number.isInteger(answer.load_duration));
  });

  test("a text completion cut at its limit, from an upstream that reports only usage", () => {
    const answer = completionAnswer("generate", "m", { choices: [{ index: 0, text: "Hello", finish_reason: "length" }], usage: { prompt_tokens: 3, completion_tokens: 1 } }, times());
    assert.equal(answer.response, "Hello");
    assert.equal(answer.done_reason, "length");
    assert.equal(answer.prompt_eval_count, 3);
    assert.equal(answer.eval_count, 1);
    assert.ok((answer.eval_duration as number) >= 10_000_000, "without timings, generation is the time since the grant");
  });

  test("embeddings in input order; anything else is a 502", () => {
    const json = { data: [{ index: 1, embedding: [0, 1] }, { index: 0, embedding: [1, 0] }], usage: { prompt_tokens: 2 } };
    const embed = embeddingAnswer("embed", "m", json, times());
    assert.deepEqual(embed.embeddings, [[1, 0], [0, 1]]);
    assert.equal(embed.model, "m");
    assert.equal(embed.prompt_eval_count, 2);
    assert.deepEqual(embeddingAnswer("embeddings", "m", json, times()), { embedding: [1, 0] });
    refuses(() => embeddingAnswer("embed", "m", { data: [{ embedding: "AAAA" }] }, times()), 502, /model "m" answered with something other than float embeddings/);
    refuses(() => embeddingAnswer("embed", "m", {}, times()), 502, /model "m"/);
    refuses(() => completionAnswer("chat", "m", { object: "list" }, times()), 502, /model "m" answered with something other than a completion/);
  });
});

describe("stream translation", () => {
  /** Every line the translator gives for `text`, fed in pieces of `size` characters. */
  function translate(text: string, size = 7, kind: "chat" | "generate" = "chat"): Json[] {
    const translator = new StreamTranslator(kind, "m", times());
    const lines: Json[] = [];
    for (let at = 0; at < text.length; at += size) lines.push(...translator.push(text.slice(at, at + size)));
    lines.push(...translator.end(""));
    return lines;
  }

  const stream = sse(
    delta({ role: "assistant", content: null }),
    delta({ reasoning_content: "Think" }),
    delta({ content: "Hel" }),
    delta({ content: "lo" }),
    delta({ tool_calls: [{ index: 0, id: "call_9", type: "function", function: { name: "weather", arguments: "" } }] }),
    delta({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }),
    delta({ tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }),
    { ...delta({}, "tool_calls"), timings: TIMINGS },
    { choices: [], usage: { prompt_tokens: 10, completion_tokens: 4 } },
    "[DONE]",
  );

  test("content and thinking parts as they come, tool calls once complete, then done with the counts", () => {
    for (const size of [1, 7, stream.length]) {
      const lines = translate(stream, size);
      assert.deepEqual(lines.map((line) => line.message), [
        { role: "assistant", content: "", thinking: "Think" },
        { role: "assistant", content: "Hel" },
        { role: "assistant", content: "lo" },
        { role: "assistant", content: "", tool_calls: [{ id: "call_9", function: { index: 0, name: "weather", arguments: { city: "Paris" } } }] },
        { role: "assistant", content: "" },
      ], `pieces of ${size}`);
      assert.ok(lines.slice(0, -1).every((line) => line.done === false && line.model === "m"));
      const done = lines.at(-1)!;
      assert.equal(done.done, true);
      assert.equal(done.done_reason, "stop");
      assert.equal(done.eval_count, 4);
      assert.equal(done.prompt_eval_count, 7);
      assert.equal(done.eval_duration, 40_000_000);
    }
  });

  test("generate streams `response`; CRLF framing and multi-byte text split anywhere survive", () => {
    const text = sse(delta({ content: "héllo " }), delta({ content: "wörld" }), delta({}, "length"), "[DONE]").replaceAll("\n", "\r\n");
    const bytes = new TextEncoder().encode(text);
    const translator = new StreamTranslator("generate", "m", times());
    const decoder = new TextDecoder();
    const lines: Json[] = [];
    for (const byte of bytes) lines.push(...translator.push(decoder.decode(new Uint8Array([byte]), { stream: true })));
    lines.push(...translator.end(decoder.decode()));
    assert.deepEqual(lines.map((line) => line.response), ["héllo ", "wörld", ""]);
    assert.equal(lines.at(-1)!.done_reason, "length");
  });

  test("an error event becomes Ollama's error line and ends the translation", () => {
    const lines = translate(sse(delta({ content: "Hi" }), { error: { message: 'model "m" exited with code 3', type: "server_error" } }, delta({ content: "later" })));
    assert.deepEqual(lines.slice(1), [{ error: 'model "m" exited with code 3' }]);
  });

  test("a stream that ends before its answer is complete ends with an error line, not a done line", () => {
    const lines = translate(sse(delta({ content: "Hi" })));
    assert.deepEqual(lines.at(-1), { error: 'model "m" ended its stream before the answer was complete' });
    const finished = translate(sse(delta({ content: "Hi" }, "stop")));
    assert.equal(finished.at(-1)!.done, true, "a finish_reason without [DONE] is a complete answer");
  });

  test("a stream that is not OpenAI's is refused and marked broken", () => {
    const translator = new StreamTranslator("chat", "m", times());
    const lines = translator.push("data: {not json\n\n");
    assert.match(String(lines[0].error), /model "m" sent a stream modelswap cannot translate for Ollama clients: an event is not JSON/);
    assert.equal(translator.broken, true);
    assert.deepEqual(translator.push(sse(delta({ content: "x" }))), [], "nothing after the error");
  });

  test("an event, or tool calls, beyond their bounds are refused instead of growing", () => {
    const long = new StreamTranslator("chat", "m", times());
    const line = long.push(`data: ${"x".repeat(MAX_EVENT_CHARS + 1)}`);
    assert.match(String(line[0].error), /longer than/);
    assert.equal(long.broken, true);
    const calls = new StreamTranslator("chat", "m", times());
    const piece = "a".repeat(64 * 1024);
    const lines: Json[] = [];
    for (let i = 0; i * piece.length <= MAX_TOOL_CALL_CHARS && lines.length === 0; i++) {
      lines.push(...calls.push(sse(delta({ tool_calls: [{ index: 0, function: { arguments: piece } }] }))));
    }
    assert.match(String(lines[0]?.error), /tool calls longer than/);
  });

  test("ollamaStream: NDJSON bytes, and a client that leaves cancels the upstream even while it is silent", async () => {
    let cancelled: unknown = null;
    const encoder = new TextEncoder();
    const upstream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(encoder.encode(sse(delta({ content: "Hi" }))));
      },
      cancel(reason) {
        cancelled = reason ?? "cancelled";
      },
    });
    const reader = ollamaStream(upstream, "chat", "m", times()).getReader();
    const first = await reader.read();
    const line = JSON.parse(new TextDecoder().decode(first.value));
    assert.deepEqual(line.message, { role: "assistant", content: "Hi" });
    const pending = reader.read(); // waits on an upstream that sends nothing more
    await reader.cancel("client left");
    assert.equal(cancelled, "client left");
    assert.deepEqual(await pending, { done: true, value: undefined });
  });
});

describe("SSE reader", () => {
  test("multi-line data is joined; comments, other fields and blank lines frame events", () => {
    const reader = new SseReader(100);
    assert.deepEqual(reader.push(": keep-alive\n\nevent: x\ndata: a\ndata:b\nid: 1\n\ndata: c"), ["a\nb"]);
    assert.deepEqual(reader.end(), ["c"]);
  });

  test("a line or an event past the bound throws", () => {
    assert.throws(() => new SseReader(10).push("data: 12345678901"), /longer than 10 characters/);
    const reader = new SseReader(10);
    assert.throws(() => reader.push("data: 123456\ndata: 123456\n"), /longer than 10 characters/);
  });
});

describe("errors", () => {
  test("the message of OpenAI, Ollama and plain-text error bodies", () => {
    assert.equal(errorMessage('{"error":{"message":"model \\"x\\" not found","type":"not_found_error"}}', 404), 'model "x" not found');
    assert.equal(errorMessage('{"error":"already Ollama"}', 400), "already Ollama");
    assert.equal(errorMessage("upstream exploded\n", 500), "upstream exploded");
    assert.equal(errorMessage("", 503), "HTTP 503");
  });

  test("an error response becomes {error} with its status and headers (but not its length)", async () => {
    const original = new Response('{"error":{"message":"busy","type":"server_error"}}', {
      status: 503,
      headers: { "content-type": "application/json", "retry-after": "5", "content-length": "51" },
    });
    const reshaped = await ollamaError(original);
    assert.equal(reshaped.status, 503);
    assert.equal(reshaped.headers.get("retry-after"), "5");
    assert.equal(reshaped.headers.get("content-length"), null);
    assert.match(reshaped.headers.get("content-type") ?? "", /application\/json/);
    assert.deepEqual(await reshaped.json(), { error: "busy" });
  });
});
