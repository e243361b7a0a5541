/**
 * Per-model request filters end to end (reference §5.4): what the upstream
 * receives after useModelName, stripParams, setParams and setParamsByID,
 * on JSON bodies and multipart uploads. The models here point at the demo
 * upstream's `/echo`, which answers with the request exactly as it arrived.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { demoCmd, postJson, type RouterProcess, runtime, startRouter } from "../e2e/harness.ts";

interface Echo {
  path: string;
  headers: Record<string, string>;
  body: string;
}

describe(`request filters (${runtime.name})`, () => {
  let router: RouterProcess;

  before(async () => {
    router = await startRouter(`
includeAliasesInList: true
models:
  echo:
    cmd: ${demoCmd()}
    proxy: http://127.0.0.1:\${PORT}/echo
    useModelName: upstream-echo
    filters:
      stripParams: "secret, nested.drop, model"
      setParams:
        temperature: 0.2
        chat_template_kwargs.enable_thinking: false
      setParamsByID:
        echo-hot:
          temperature: 1.5
          chat_template_kwargs.mode: hot
  plain:
    cmd: ${demoCmd()}
    proxy: http://127.0.0.1:\${PORT}/echo
    aliases: [plain-alias]
  whisper:
    cmd: ${demoCmd("--reply transcribed")}
    useModelName: whisper-large-v3
routing:
  router:
    settings:
      groups:
        all: { swap: false, members: [echo, plain, whisper] }
`);
  });

  after(async () => {
    const exit = await router.stop();
    assert.equal(exit.code, 0, router.output());
  });

  const send = async (body: Record<string, unknown>): Promise<Echo> => {
    const response = await postJson(`${router.url}/v1/chat/completions`, body);
    assert.equal(response.status, 200);
    return await response.json();
  };
  const pidOf = async (model: string): Promise<number | null> => {
    const status = await (await fetch(`${router.url}/api/status`)).json();
    return status.models.find((m: { model: string }) => m.model === model)?.pid ?? null;
  };

  test("stripParams removes (nested) fields, setParams sets them, model is rewritten but never stripped", async () => {
    const echo = await send({ model: "echo", secret: "x", temperature: 0.9, nested: { drop: 1, keep: 2 }, messages: [] });
    assert.equal(echo.path, "/echo/v1/chat/completions");
    assert.deepEqual(JSON.parse(echo.body), {
      model: "upstream-echo",
      temperature: 0.2,
      nested: { keep: 2 },
      messages: [],
      chat_template_kwargs: { enable_thinking: false },
    });
  });

  test("a setParamsByID name is an alias whose params override setParams, served by the same process", async () => {
    const before = await send({ model: "echo", chat_template_kwargs: { other: 1 } });
    const pid = await pidOf("echo");
    assert.ok(pid);
    const hot = await send({ model: "echo-hot", chat_template_kwargs: { other: 1 } });
    assert.deepEqual(JSON.parse(before.body), {
      model: "upstream-echo",
      temperature: 0.2,
      chat_template_kwargs: { other: 1, enable_thinking: false },
    });
    assert.deepEqual(JSON.parse(hot.body), {
      model: "upstream-echo",
      temperature: 1.5,
      chat_template_kwargs: { other: 1, enable_thinking: false, mode: "hot" },
    });
    assert.equal(await pidOf("echo"), pid, "a variant does not reload the model");
  });

  test("a model without filters receives the client's bytes untouched, alias name included", async () => {
    const raw = '{"model": "plain-alias",   "keep": [1, 2.50, "x"]}';
    const response = await fetch(`${router.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: raw,
    });
    assert.equal(((await response.json()) as Echo).body, raw);
  });

  test("useModelName rewrites the model field of a multipart upload and keeps the file intact", async () => {
    const audio = new Uint8Array(100_000).map((_, i) => i % 251);
    const form = new FormData();
    form.append("model", "whisper");
    form.append("file", new Blob([audio], { type: "audio/wav" }), "speech.wav");
    form.append("response_format", "json");
    const response = await fetch(`${router.url}/v1/audio/transcriptions`, { method: "POST", body: form });
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { text: "transcribed", model: "whisper-large-v3", bytes: audio.length });
  });

  test("with includeAliasesInList, aliases and setParamsByID names are listed as aliases of their model", async () => {
    const { data } = await (await fetch(`${router.url}/v1/models`)).json();
    const byId = new Map(data.map((r: { id: string }) => [r.id, r]));
    assert.deepEqual([...byId.keys()], ["echo", "echo-hot", "plain", "plain-alias", "whisper"]);
    assert.deepEqual((byId.get("echo-hot") as { meta: unknown }).meta, { llamaswap: { type: "alias", modelID: "echo" } });
    assert.deepEqual((byId.get("plain-alias") as { meta: unknown }).meta, { llamaswap: { type: "alias", modelID: "plain" } });
  });
});
