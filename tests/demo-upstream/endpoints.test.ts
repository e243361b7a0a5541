import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type Demo, runtime, startDemo } from "../helpers/process.ts";

const REPLY = "one two three four five";
let demo: Demo;

async function post(path: string, body: unknown): Promise<Response> {
  return await fetch(`${demo.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

/** The `data:` payloads of an SSE body, with their `event:` names. */
async function sseEvents(response: Response): Promise<{ event: string | null; data: string }[]> {
  assert.match(response.headers.get("content-type") ?? "", /text\/event-stream/);
  const text = await response.text();
  return text.split("\n\n").filter((block) => block.trim() !== "").map((block) => {
    const event = block.match(/^event: (.*)$/m)?.[1] ?? null;
    const data = block.match(/^data: (.*)$/m)?.[1] ?? "";
    return { event, data };
  });
}

describe(`demo upstream endpoints (${runtime.name})`, () => {
  before(async () => {
    demo = await startDemo(["--model", "demo-model", "--token-ms", "1", "--reply", REPLY]);
  });
  after(async () => {
    await demo.kill();
  });

  it("announces its pid, port and model on stdout", () => {
    assert.match(demo.stdout.text, new RegExp(`demo-upstream pid=${demo.proc.pid} port=${demo.port} model=demo-model`));
  });

  it("answers /health, / and /v1/models", async () => {
    const health = await fetch(`${demo.url}/health`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: "ok" });
    assert.equal(await (await fetch(`${demo.url}/`)).text(), "demo-upstream");
    const models = await (await fetch(`${demo.url}/v1/models`)).json();
    assert.deepEqual(models.data.map((m: { id: string }) => m.id), ["demo-model"]);
  });

  it("streams a chat completion as llama-server does: role, one chunk per word, finish with timings, usage, [DONE]", async () => {
    const events = await sseEvents(
      await post("/v1/chat/completions", {
        model: "renamed",
        messages: [{ role: "user", content: "say something" }],
        stream: true,
        stream_options: { include_usage: true },
      }),
    );
    assert.equal(events.at(-1)!.data, "[DONE]");
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.data));
    assert.ok(chunks.every((c) => c.object === "chat.completion.chunk" && c.model === "renamed"));
    assert.deepEqual(chunks[0].choices[0].delta, { role: "assistant", content: null });
    const words = chunks.slice(1, -2).map((c) => c.choices[0].delta.content);
    assert.deepEqual(words, ["one", " two", " three", " four", " five"]);
    const final = chunks.at(-2);
    assert.equal(final.choices[0].finish_reason, "stop");
    assert.equal(final.timings.predicted_n, 5);
    for (const key of ["prompt_n", "prompt_ms", "predicted_ms", "predicted_per_second"]) {
      assert.equal(typeof final.timings[key], "number", key);
    }
    assert.deepEqual(chunks.at(-1).choices, []);
    assert.deepEqual(chunks.at(-1).usage, { completion_tokens: 5, prompt_tokens: 2, total_tokens: 7 });
  });

  it("answers a non-streamed chat completion with usage and timings, honouring max_tokens", async () => {
    const body = await (await post("/v1/chat/completions", {
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 2,
    })).json();
    assert.equal(body.object, "chat.completion");
    assert.equal(body.model, "demo-model");
    assert.deepEqual(body.choices[0].message, { role: "assistant", content: "one two" });
    assert.equal(body.choices[0].finish_reason, "length");
    assert.deepEqual(body.usage, { completion_tokens: 2, prompt_tokens: 1, total_tokens: 3 });
    assert.equal(body.timings.predicted_n, 2);
  });

  it("serves /v1/completions streamed and not", async () => {
    const plain = await (await post("/v1/completions", { prompt: "once upon", max_tokens: 3 })).json();
    assert.equal(plain.choices[0].text, "one two three");
    const events = await sseEvents(await post("/v1/completions", { prompt: "once", stream: true }));
    assert.equal(events.at(-1)!.data, "[DONE]");
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.data));
    assert.equal(chunks.map((c) => c.choices[0].text).join(""), REPLY);
    assert.equal(chunks.at(-1).choices[0].finish_reason, "stop");
  });

  it("serves llama.cpp's native /completion and /infill", async () => {
    const plain = await (await post("/completion", { prompt: "x", n_predict: 1 })).json();
    assert.equal(plain.content, "one");
    assert.equal(plain.stop, true);
    const events = await sseEvents(await post("/infill", { input_prefix: "a", input_suffix: "b", stream: true }));
    const chunks = events.map((e) => JSON.parse(e.data));
    assert.equal(chunks.map((c) => c.content).join(""), REPLY);
    assert.equal(chunks.at(-1).stop, true);
  });

  it("returns deterministic 8-dimensional embeddings for a string or an array", async () => {
    const one = await (await post("/v1/embeddings", { model: "emb", input: "hello" })).json();
    assert.equal(one.model, "emb");
    assert.equal(one.data.length, 1);
    assert.equal(one.data[0].embedding.length, 8);
    const two = await (await post("/v1/embeddings", { input: ["hello", "world"] })).json();
    assert.deepEqual(two.data[0].embedding, one.data[0].embedding);
    assert.notDeepEqual(two.data[1].embedding, two.data[0].embedding);
    assert.deepEqual(two.data.map((d: { index: number }) => d.index), [0, 1]);
  });

  it("streams Anthropic messages with the Anthropic event sequence", async () => {
    const events = await sseEvents(
      await post("/v1/messages", {
        model: "claude-ish",
        max_tokens: 3,
        messages: [{ role: "user", content: "hi" }],
        stream: true,
      }),
    );
    assert.deepEqual(events.map((e) => e.event), [
      "message_start",
      "content_block_start",
      "content_block_delta",
      "content_block_delta",
      "content_block_delta",
      "content_block_stop",
      "message_delta",
      "message_stop",
    ]);
    const data = events.map((e) => JSON.parse(e.data));
    assert.equal(data[0].message.model, "claude-ish");
    assert.equal(data.slice(2, 5).map((d) => d.delta.text).join(""), "one two three");
    assert.equal(data[6].delta.stop_reason, "max_tokens");
  });

  it("answers Anthropic messages without streaming, and counts tokens", async () => {
    const message = await (await post("/v1/messages", { messages: [{ role: "user", content: "hi" }] })).json();
    assert.equal(message.type, "message");
    assert.deepEqual(message.content, [{ type: "text", text: REPLY }]);
    assert.equal(message.stop_reason, "end_turn");
    const count = await (await post("/v1/messages/count_tokens", { messages: [{ role: "user", content: "a b c" }] }))
      .json();
    assert.equal(count.input_tokens, 3);
  });

  it("transcribes a multipart upload, reporting the form's model and the file size", async () => {
    const form = new FormData();
    form.append("model", "whisper-x");
    form.append("file", new Blob([new Uint8Array(1234)], { type: "audio/wav" }), "clip.wav");
    const body = await (await fetch(`${demo.url}/v1/audio/transcriptions`, { method: "POST", body: form })).json();
    assert.deepEqual(body, { text: REPLY, model: "whisper-x", bytes: 1234 });
  });

  it("answers speech, images, rerank and responses requests", async () => {
    const speech = await post("/v1/audio/speech", { model: "tts", input: "hi" });
    assert.equal(speech.headers.get("content-type"), "audio/mpeg");
    assert.equal(speech.headers.get("x-demo-model"), "tts");
    assert.ok((await speech.arrayBuffer()).byteLength > 0);
    const images = await (await post("/v1/images/generations", { model: "sd", prompt: "cat", n: 2 })).json();
    assert.equal(images.model, "sd");
    assert.equal(images.data.length, 2);
    for (const path of ["/v1/rerank", "/rerank"]) {
      const rerank = await (await post(path, { query: "red fox", documents: ["blue sky", "a red fox"] })).json();
      assert.equal(rerank.results[0].index, 1, path);
    }
    const response = await (await post("/v1/responses", { model: "r", input: "hi", max_output_tokens: 1 })).json();
    assert.equal(response.model, "r");
    assert.equal(response.output[0].content[0].text, "one");
  });

  it("serves /props, /slots, /tokenize, /detokenize and /apply-template", async () => {
    assert.equal((await (await fetch(`${demo.url}/props`)).json()).total_slots, 4);
    assert.equal((await (await fetch(`${demo.url}/slots`)).json()).length, 4);
    const { tokens } = await (await post("/tokenize", { content: "héllo" })).json();
    assert.equal((await (await post("/detokenize", { tokens })).json()).content, "héllo");
    const template = await (await post("/apply-template", { messages: [{ role: "user", content: "hi" }] })).json();
    assert.equal(template.prompt, "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
  });

  it("echoes the method, path, query, headers and body it received", async () => {
    const response = await fetch(`${demo.url}/echo?a=1&b=two`, {
      method: "POST",
      headers: { "x-test": "yes", "content-type": "application/json" },
      body: JSON.stringify({ model: "echoed" }),
    });
    const echo = await response.json();
    assert.equal(echo.method, "POST");
    assert.equal(echo.path, "/echo");
    assert.deepEqual(echo.query, { a: "1", b: "two" });
    assert.equal(echo.headers["x-test"], "yes");
    assert.equal(echo.body, '{"model":"echoed"}');
    assert.equal(echo.model, "echoed");
    assert.equal((await (await fetch(`${demo.url}/echo`)).json()).method, "GET");
  });

  it("answers bad JSON with an OpenAI-style 400 and unknown paths with 404", async () => {
    const bad = await fetch(`${demo.url}/v1/chat/completions`, { method: "POST", body: "{not json" });
    assert.equal(bad.status, 400);
    const body = await bad.json();
    assert.equal(body.error.type, "invalid_request_error");
    assert.match(body.error.message, /invalid JSON/);
    const missing = await fetch(`${demo.url}/nope`);
    assert.equal(missing.status, 404);
    assert.match((await missing.json()).error.message, /no endpoint GET \/nope/);
  });
});
