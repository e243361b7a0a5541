/**
 * The routes real clients call, end to end through a router process: the
 * Anthropic Messages API (with Anthropic-shaped errors), llama-server's own
 * routes, CORS for browser clients, and the model list with live states.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { chat, demoCmd, eventually, postJson, type RouterProcess, runtime, startRouter } from "../e2e/harness.ts";
import { sseMessages } from "./sse.ts";

const KEY = "route-key";
const REPLY = "one two three";
const auth = { authorization: `Bearer ${KEY}` };

interface ModelRecord {
  id: string;
  name?: string;
  description?: string;
  metadata?: Record<string, unknown>;
  state?: string;
  status?: { value: string };
  meta: { llamaswap: Record<string, unknown> };
  architecture?: Record<string, unknown>;
  capabilities?: Record<string, boolean>;
  supported_parameters?: string[];
  context_length?: number;
}

describe(`API routes (${runtime.name})`, () => {
  let router: RouterProcess;

  before(async () => {
    router = await startRouter(`
apiKeys: [${KEY}]
macros:
  ctx: 4096
models:
  alpha:
    cmd: ${demoCmd(`--model alpha --token-ms 1 --reply "${REPLY}"`)}
    aliases: [a]
    name: Alpha
    description: the first model
    metadata:
      ctx: \${ctx}
      vision: true
      family: demo
  slow:
    cmd: ${demoCmd("--model slow --startup-ms 1500")}
    capabilities: { in: [text, image], out: [text], tools: true, context: 8192 }
  hidden:
    cmd: ${demoCmd()}
    unlisted: true
routing:
  router:
    settings:
      groups:
        all: { swap: false, members: [alpha, slow, hidden] }
`);
  });

  after(async () => {
    const exit = await router.stop();
    assert.equal(exit.code, 0, router.output());
  });

  test("/v1/messages answers Anthropic messages, whole and streamed, authenticated by x-api-key", async () => {
    const headers = { "x-api-key": KEY, "anthropic-version": "2023-06-01" };
    const request = { model: "a", max_tokens: 50, messages: [{ role: "user", content: "hi" }] };
    const whole = await postJson(`${router.url}/v1/messages`, request, { headers });
    assert.equal(whole.status, 200);
    const message = await whole.json();
    assert.equal(message.type, "message");
    assert.equal(message.content[0].text, REPLY);

    const streamed = await postJson(`${router.url}/v1/messages`, { ...request, stream: true }, { headers });
    assert.equal(streamed.status, 200);
    const events = await sseMessages(streamed);
    assert.deepEqual(
      [...new Set(events.map((e) => e.event))],
      ["message_start", "content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop"],
    );
    const text = events.filter((e) => e.event === "content_block_delta").map((e) => JSON.parse(e.data).delta.text).join("");
    assert.equal(text, REPLY);
  });

  test("/v1/messages/count_tokens is routed by its model", async () => {
    const response = await postJson(
      `${router.url}/v1/messages/count_tokens`,
      { model: "alpha", messages: [{ role: "user", content: "four words right here" }] },
      { headers: { "x-api-key": KEY } },
    );
    assert.equal(response.status, 200);
    assert.equal((await response.json()).input_tokens, 4);
  });

  test("errors on the Anthropic routes come in Anthropic's shape", async () => {
    const expectAnthropicError = async (response: Response, status: number, type: string, message: RegExp) => {
      assert.equal(response.status, status);
      const body = await response.json();
      assert.equal(body.type, "error");
      assert.equal(body.error.type, type);
      assert.match(body.error.message, message);
    };
    const headers = { "x-api-key": KEY };
    await expectAnthropicError(
      await postJson(`${router.url}/v1/messages`, { model: "nope", max_tokens: 5, messages: [] }, { headers }),
      404,
      "not_found_error",
      /"nope".*GET \/v1\/models/,
    );
    await expectAnthropicError(
      await fetch(`${router.url}/v1/messages`, { method: "POST", headers: { ...headers, "content-type": "application/json" }, body: "{not json" }),
      400,
      "invalid_request_error",
      /not valid JSON/,
    );
    await expectAnthropicError(
      await postJson(`${router.url}/v1/messages`, { model: "alpha", max_tokens: 5, messages: [] }),
      401,
      "authentication_error",
      /API key/,
    );
    await expectAnthropicError(
      await postJson(`${router.url}/v1/messages/count_tokens`, { model: "alpha", messages: [] }, { headers: { "x-api-key": "wrong" } }),
      401,
      "authentication_error",
      /API key/,
    );
    await expectAnthropicError(
      await postJson(`${router.url}/v/messages`, { model: "nope", max_tokens: 5, messages: [] }, { headers }),
      404,
      "not_found_error",
      /"nope"/,
    );
    // The OpenAI routes keep the OpenAI shape.
    const openai = await postJson(`${router.url}/v1/chat/completions`, chat("nope"), { headers });
    assert.equal(openai.status, 404);
    assert.equal((await openai.json()).error.type, "not_found_error");
  });

  test("llama-server's routes are routed by a model query or body field", async () => {
    const get = (path: string) => fetch(`${router.url}${path}`, { headers: auth });
    const props = await get("/props?model=a");
    assert.equal(props.status, 200);
    assert.equal((await props.json()).default_generation_settings.n_ctx, 2048);
    const slots = await get("/slots?model=alpha");
    assert.equal(slots.status, 200);
    assert.equal((await slots.json()).length, 4);

    const tokenize = await postJson(`${router.url}/tokenize`, { model: "a", content: "hi" }, { headers: auth });
    assert.deepEqual((await tokenize.json()).tokens, [104, 105]);
    const detokenize = await postJson(`${router.url}/detokenize`, { model: "a", tokens: [104, 105] }, { headers: auth });
    assert.equal((await detokenize.json()).content, "hi");
    const template = await postJson(
      `${router.url}/apply-template`,
      { model: "alpha", messages: [{ role: "user", content: "hello" }] },
      { headers: auth },
    );
    assert.match((await template.json()).prompt, /<\|im_start\|>user\nhello<\|im_end\|>/);

    const missing = await get("/props");
    assert.equal(missing.status, 400);
    assert.match((await missing.json()).error.message, /\?model=/);
    const unknown = await get("/slots?model=nope");
    assert.equal(unknown.status, 404);
    assert.match((await unknown.json()).error.message, /"nope"/);
  });

  test("CORS: preflights are answered 204 without a key, echoing the requested headers; API answers carry the allowed origin", async () => {
    const preflight = await fetch(`${router.url}/v1/chat/completions`, {
      method: "OPTIONS",
      headers: {
        origin: "http://localhost:3000",
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization,content-type,x-stainless-os",
      },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get("access-control-allow-origin"), "*");
    assert.equal(preflight.headers.get("access-control-allow-headers"), "authorization,content-type,x-stainless-os");
    assert.match(preflight.headers.get("access-control-allow-methods") ?? "", /POST/);

    const origin = { origin: "http://localhost:3000" };
    const answer = await postJson(`${router.url}/v1/chat/completions`, chat("alpha"), { headers: { ...auth, ...origin } });
    assert.equal(answer.status, 200);
    assert.equal(answer.headers.get("access-control-allow-origin"), "*");
    await answer.body?.cancel();
    const listing = await fetch(`${router.url}/v1/models`, { headers: { ...auth, ...origin } });
    assert.equal(listing.headers.get("access-control-allow-origin"), "*");
    await listing.body?.cancel();
    const failure = await postJson(`${router.url}/v1/chat/completions`, chat("nope"), { headers: { ...auth, ...origin } });
    assert.equal(failure.status, 404);
    assert.equal(failure.headers.get("access-control-allow-origin"), "*", "errors are readable by browser clients too");
    await failure.body?.cancel();
  });

  test("/v1/models lists name, description, typed metadata and each model's state as it changes", async () => {
    const list = async (): Promise<ModelRecord[]> => {
      const response = await fetch(`${router.url}/v1/models`, { headers: auth });
      assert.equal(response.status, 200);
      const body = await response.json();
      assert.equal(body.object, "list");
      return body.data;
    };
    const record = async (id: string) => (await list()).find((r) => r.id === id);

    const models = await list();
    assert.deepEqual(models.map((r) => r.id), ["alpha", "slow"], "sorted, unlisted hidden, aliases off by default");
    const alpha = models[0];
    assert.equal(alpha.name, "Alpha");
    assert.equal(alpha.description, "the first model");
    assert.deepEqual(alpha.metadata, { ctx: 4096, vision: true, family: "demo" }, "macro-expanded, types preserved");
    assert.deepEqual(alpha.meta.llamaswap, { ctx: 4096, vision: true, family: "demo", type: "model", aliases: ["a"] });

    const slowBefore = await record("slow");
    assert.deepEqual(slowBefore?.architecture, { input_modalities: ["text", "image"], output_modalities: ["text"], modality: "text+image->text" });
    assert.equal(slowBefore?.capabilities?.vision, true);
    assert.equal(slowBefore?.capabilities?.function_calling, true);
    assert.deepEqual(slowBefore?.supported_parameters, ["tools", "tool_choice"]);
    assert.equal(slowBefore?.context_length, 8192);
    assert.equal(alpha.architecture, undefined, "no capabilities declared, none rendered");
    assert.equal(slowBefore?.state, "stopped");
    assert.deepEqual(slowBefore?.status, { value: "unloaded" });
    const pending = postJson(`${router.url}/v1/chat/completions`, chat("slow"), { headers: auth });
    const starting = await eventually(async () => (await record("slow"))?.state === "starting" && record("slow"), 10_000, "slow to be starting");
    assert.deepEqual(starting && starting.status, { value: "loaded" });
    const answer = await pending;
    assert.equal(answer.status, 200);
    await answer.body?.cancel();
    assert.equal((await record("slow"))?.state, "ready");
  });
});
