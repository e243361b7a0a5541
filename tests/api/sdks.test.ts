/**
 * The official OpenAI and Anthropic SDKs from npm, unchanged, pointed at a
 * router: every response they get — whole, streamed, uploaded, failed —
 * must parse into their types.
 */
import Anthropic from "@anthropic-ai/sdk";
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import OpenAI, { toFile } from "openai";
import { demoCmd, type RouterProcess, runtime, startRouter } from "../e2e/harness.ts";

const KEY = "sdk-key";
const REPLY = "Hello from the SDK test";

describe(`official SDKs against modelswap (${runtime.name})`, () => {
  let router: RouterProcess;
  let openai: OpenAI;
  let anthropic: Anthropic;

  before(async () => {
    router = await startRouter(`
apiKeys: [${KEY}]
models:
  chat:
    cmd: ${demoCmd(`--token-ms 1 --reply "${REPLY}"`)}
    aliases: [claude-demo]
  whisper:
    cmd: ${demoCmd("--reply 'heard you'")}
routing:
  router:
    settings:
      groups:
        all: { swap: false, members: [chat, whisper] }
`);
    openai = new OpenAI({ baseURL: `${router.url}/v1`, apiKey: KEY, maxRetries: 0 });
    anthropic = new Anthropic({ baseURL: router.url, apiKey: KEY, maxRetries: 0 });
  });

  after(async () => {
    const exit = await router.stop();
    assert.equal(exit.code, 0, router.output());
  });

  const messages = [{ role: "user" as const, content: "Say hello" }];

  test("openai: chat completion", async () => {
    const completion = await openai.chat.completions.create({ model: "chat", messages });
    assert.equal(completion.choices[0].message.content, REPLY);
    assert.equal(completion.choices[0].finish_reason, "stop");
    assert.equal(completion.usage?.completion_tokens, 5);
  });

  test("openai: streamed chat completion with usage", async () => {
    const stream = await openai.chat.completions.create({ model: "chat", messages, stream: true, stream_options: { include_usage: true } });
    let text = "";
    let usage;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? "";
      usage = chunk.usage ?? usage;
    }
    assert.equal(text, REPLY);
    assert.equal(usage?.completion_tokens, 5);
  });

  test("openai: embeddings", async () => {
    const result = await openai.embeddings.create({ model: "chat", input: ["first", "second"] });
    assert.equal(result.data.length, 2);
    assert.equal(result.data[0].embedding.length, 8);
    assert.ok(Math.abs(Math.hypot(...result.data[0].embedding) - 1) < 1e-5, "the vector survived base64 encoding");
    assert.notDeepEqual(result.data[0].embedding, result.data[1].embedding);
  });

  test("openai: transcription upload", async () => {
    const audio = new Uint8Array(50_000).map((_, i) => i % 7);
    const transcription = await openai.audio.transcriptions.create({ file: await toFile(audio, "speech.wav"), model: "whisper" });
    assert.equal(transcription.text, "heard you");
  });

  test("openai: model list and errors", async () => {
    const ids: string[] = [];
    for await (const model of openai.models.list()) ids.push(model.id);
    assert.deepEqual(ids, ["chat", "whisper"]);
    await assert.rejects(
      openai.chat.completions.create({ model: "nope", messages }),
      (error) => error instanceof OpenAI.NotFoundError && /"nope"/.test(error.message),
    );
    const stranger = new OpenAI({ baseURL: `${router.url}/v1`, apiKey: "wrong", maxRetries: 0 });
    await assert.rejects(stranger.models.list(), OpenAI.AuthenticationError);
  });

  test("anthropic: message", async () => {
    const message = await anthropic.messages.create({ model: "claude-demo", max_tokens: 100, messages });
    assert.equal(message.type, "message");
    assert.deepEqual(message.content, [{ type: "text", text: REPLY }]);
    assert.equal(message.stop_reason, "end_turn");
  });

  test("anthropic: streamed message", async () => {
    const stream = anthropic.messages.stream({ model: "claude-demo", max_tokens: 100, messages });
    let text = "";
    stream.on("text", (delta) => (text += delta));
    const final = await stream.finalMessage();
    assert.equal(text, REPLY);
    assert.deepEqual(final.content, [{ type: "text", text: REPLY }]);
    assert.equal(final.usage.output_tokens, 5);
  });

  test("anthropic: token count and errors", async () => {
    const count = await anthropic.messages.countTokens({ model: "claude-demo", messages });
    assert.equal(count.input_tokens, 2);
    await assert.rejects(
      anthropic.messages.create({ model: "nope", max_tokens: 10, messages }),
      (error) => error instanceof Anthropic.NotFoundError && error.type === "not_found_error" && /"nope"/.test(error.apiMessage ?? ""),
    );
    const stranger = new Anthropic({ baseURL: router.url, apiKey: "wrong", maxRetries: 0 });
    await assert.rejects(stranger.messages.create({ model: "chat", max_tokens: 10, messages }), Anthropic.AuthenticationError);
  });
});
