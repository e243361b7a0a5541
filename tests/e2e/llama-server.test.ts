/**
 * The router in front of a real llama.cpp `llama-server` (Debian's build and
 * a 1 MB random-weight model, see ../shared/tools/README-llama-server.md).
 * Runs when LLAMA_SERVER and LLAMA_TINY_MODEL are set (`.ci/run` sets them);
 * in CI their absence is a failure, never a silent pass. Every assertion is a
 * protocol fact: what the random model says is never checked.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { chat, eventually, postJson, type RouterProcess, runtime, startRouter } from "./harness.ts";

const LLAMA_SERVER = runtime.env("LLAMA_SERVER");
const MODEL = runtime.env("LLAMA_TINY_MODEL");
const SETUP_HINT = "run ../shared/tools/llama-server-setup.sh, then `source /tmp/llama-prefix/env.sh`";

interface ModelStatus {
  model: string;
  state: string;
  pid: number | null;
  inFlight: number;
}

interface ChatChunk {
  id: string;
  object: string;
  model: string;
  choices: { delta: { role?: string; content?: string | null }; finish_reason: string | null }[];
  usage?: { completion_tokens: number; prompt_tokens: number };
  timings?: { predicted_n: number };
}

/** The `cmd:` for the tiny model served by llama-server under `alias`. */
function llamaCmd(alias: string, extra = ""): string {
  return `${LLAMA_SERVER} -m ${MODEL} --host 127.0.0.1 --port \${PORT} --alias ${alias} ${extra}`.trim();
}

/** Read an SSE body event by event as it arrives; yields each `data:` payload. */
async function* sseData(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = event.split("\n").filter((line) => line.startsWith("data: ")).map((line) => line.slice(6)).join("\n");
      if (data) yield data;
    }
  }
  assert.equal(buffer.trim(), "", "the stream ends on an event boundary");
}

if (!LLAMA_SERVER || !MODEL) {
  if (runtime.env("CI") === "true") {
    test("llama-server end to end", () => {
      assert.fail(`LLAMA_SERVER / LLAMA_TINY_MODEL are not set in CI: .ci/run must install llama-server first (${SETUP_HINT})`);
    });
  } else {
    test("llama-server end to end", { skip: `LLAMA_SERVER is not set; to run: ${SETUP_HINT}` }, () => {});
  }
} else {
  describe("modelswap in front of a real llama-server", () => {
    let router: RouterProcess;
    const pids = new Set<number>();

    async function status(): Promise<ModelStatus[]> {
      const models = (await (await fetch(`${router.url}/api/status`)).json()).models as ModelStatus[];
      for (const m of models) if (m.pid) pids.add(m.pid);
      return models;
    }

    async function running(): Promise<string[]> {
      return (await (await fetch(`${router.url}/running`)).json()).running.map((r: { model: string }) => r.model);
    }

    before(async () => {
      // One slot and context shift on tiny-a: a generation without a token
      // limit then never ends by itself, so only a propagated abort frees it.
      router = await startRouter(`
healthCheckTimeout: 30
models:
  tiny-a:
    cmd: ${llamaCmd("tiny-a", "-np 1 --context-shift")}
  tiny-b:
    cmd: ${llamaCmd("tiny-b")}
  tiny-embed:
    cmd: ${llamaCmd("tiny-embed", "--embeddings")}
`);
    });

    after(async () => {
      const exit = await router.stop();
      for (const pid of pids) {
        if (runtime.isAlive(pid)) {
          runtime.killGroup(pid, "SIGKILL");
          assert.fail(`llama-server ${pid} survived the router's shutdown`);
        }
      }
      assert.equal(exit.code, 0, `router exit ${JSON.stringify(exit)}:\n${router.output()}`);
    });

    test("two llama-server models with different aliases swap back and forth", async () => {
      let previous: number | null = null;
      for (const alias of ["tiny-a", "tiny-b", "tiny-a", "tiny-b"]) {
        const response = await postJson(`${router.url}/v1/chat/completions`, chat(alias, { max_tokens: 4 }));
        assert.equal(response.status, 200, await response.clone().text());
        const body = await response.json();
        assert.equal(body.model, alias, "the answer comes from the server started with that --alias");
        assert.equal(body.object, "chat.completion");
        assert.equal(body.choices[0].finish_reason, "length");
        assert.equal(body.usage.completion_tokens, 4);
        assert.deepEqual(await running(), [alias]);
        const pid = (await status()).find((m) => m.model === alias)!.pid!;
        assert.notEqual(pid, previous, "every swap starts a new llama-server");
        if (previous) assert.equal(runtime.isAlive(previous), false, "the swapped-out llama-server is gone");
        previous = pid;
      }
    });

    test("a streamed chat arrives as SSE chunks: role, one chunk per token, finish, usage, [DONE]", async () => {
      const response = await postJson(
        `${router.url}/v1/chat/completions`,
        chat("tiny-b", { stream: true, max_tokens: 8, stream_options: { include_usage: true } }),
      );
      assert.equal(response.status, 200);
      assert.match(response.headers.get("content-type") ?? "", /^text\/event-stream/);
      const events: string[] = [];
      for await (const data of sseData(response.body!)) events.push(data);

      assert.equal(events.at(-1), "[DONE]");
      const chunks = events.slice(0, -1).map((data) => JSON.parse(data) as ChatChunk);
      assert.ok(chunks.every((c) => c.object === "chat.completion.chunk" && c.model === "tiny-b"));
      assert.equal(new Set(chunks.map((c) => c.id)).size, 1, "every chunk belongs to one completion");
      assert.equal(chunks[0].choices[0].delta.role, "assistant");
      const content = chunks.filter((c) => c.choices[0]?.delta.content);
      const finish = chunks.filter((c) => c.choices[0]?.finish_reason);
      const usage = chunks.find((c) => c.usage)!;
      assert.equal(finish.length, 1);
      assert.equal(finish[0].choices[0].finish_reason, "length");
      assert.equal(usage.usage!.completion_tokens, 8);
      assert.equal(content.length, 8, "one content chunk per generated token");
      assert.equal(usage.timings?.predicted_n, 8, "llama-server's timings pass through");
    });

    test("/v1/completions returns a text completion of exactly max_tokens tokens", async () => {
      const request = { model: "tiny-a", prompt: "The license", max_tokens: 5, temperature: 0 };
      const first = await postJson(`${router.url}/v1/completions`, request);
      assert.equal(first.status, 200, await first.clone().text());
      const body = await first.json();
      assert.equal(body.object, "text_completion");
      assert.equal(body.model, "tiny-a");
      assert.equal(body.choices[0].finish_reason, "length");
      assert.equal(body.usage.completion_tokens, 5);
      assert.equal(typeof body.choices[0].text, "string");
      const again = await (await postJson(`${router.url}/v1/completions`, request)).json();
      assert.equal(again.choices[0].text, body.choices[0].text, "temperature 0 is deterministic through the proxy");
    });

    test("/v1/embeddings from a model started with --embeddings", async () => {
      const response = await postJson(`${router.url}/v1/embeddings`, {
        model: "tiny-embed",
        input: ["a free program", "a free program", "the warranty"],
      });
      assert.equal(response.status, 200, await response.clone().text());
      const body = await response.json();
      assert.equal(body.object, "list");
      const vectors = (body.data as { index: number; embedding: number[] }[])
        .sort((x, y) => x.index - y.index)
        .map((d) => d.embedding);
      assert.equal(vectors.length, 3);
      for (const vector of vectors) {
        assert.equal(vector.length, 64);
        const norm = Math.sqrt(vector.reduce((sum, x) => sum + x * x, 0));
        assert.ok(Math.abs(norm - 1) < 1e-3, `embeddings are L2-normalised (norm ${norm})`);
      }
      assert.deepEqual(vectors[0], vectors[1], "equal inputs give equal vectors");
      assert.notDeepEqual(vectors[0], vectors[2], "different inputs give different vectors");
      assert.deepEqual(await running(), ["tiny-embed"]);
    });

    test("/upstream/<model>/props reaches that model's own llama-server", async () => {
      const response = await fetch(`${router.url}/upstream/tiny-b/props`);
      assert.equal(response.status, 200);
      const props = await response.json();
      assert.equal(props.model_alias, "tiny-b");
      assert.equal(typeof props.total_slots, "number");
      assert.ok(props.default_generation_settings, "llama-server's props document");
    });

    test("llama-server's token usage and timings reach /api/activity and /metrics", async () => {
      const completionTokens = async () => {
        const metrics = await (await fetch(`${router.url}/metrics`)).text();
        const line = /^modelswap_completion_tokens_total\{model="tiny-b"\} (\d+)$/m.exec(metrics);
        return line ? Number(line[1]) : 0;
      };
      const before = await completionTokens();
      const plain = await postJson(`${router.url}/v1/chat/completions`, chat("tiny-b", { max_tokens: 6 }));
      assert.equal(plain.status, 200);
      await plain.arrayBuffer();
      const streamed = await postJson(
        `${router.url}/v1/chat/completions`,
        chat("tiny-b", { max_tokens: 7, stream: true, stream_options: { include_usage: true } }),
      );
      assert.equal(streamed.status, 200);
      await streamed.arrayBuffer();

      interface Activity {
        stream: boolean;
        status: number;
        completionTokens: number | null;
        promptTokens: number | null;
        tokensPerSecond: number | null;
        promptTokensPerSecond: number | null;
      }
      const records = await eventually(async () => {
        const { data } = await (await fetch(`${router.url}/api/activity?model=tiny-b&limit=2`)).json() as { data: Activity[] };
        return data.length === 2 && data.every((r) => r.completionTokens !== null) ? data : null;
      }, 5_000, "both requests in /api/activity");
      const [streamRecord, plainRecord] = records; // newest first
      assert.deepEqual([plainRecord.stream, plainRecord.completionTokens], [false, 6]);
      assert.deepEqual([streamRecord.stream, streamRecord.completionTokens], [true, 7]);
      for (const record of records) {
        assert.equal(record.status, 200);
        assert.ok(record.promptTokens! > 0, "prompt tokens from llama-server's usage");
        assert.ok(record.tokensPerSecond! > 0, "generation speed from llama-server's timings");
        assert.ok(record.promptTokensPerSecond! > 0, "prompt speed from llama-server's timings");
      }
      assert.equal(await completionTokens() - before, 13, "modelswap_completion_tokens_total counts both");
    });

    test("a client abort mid-generation frees the llama-server slot", async () => {
      const slots = async () => (await (await fetch(`${router.url}/upstream/tiny-a/slots`)).json()) as { is_processing: boolean }[];
      const client = new AbortController();
      // No real token limit: with context shift this generation would run for minutes.
      const response = await postJson(
        `${router.url}/v1/chat/completions`,
        chat("tiny-a", { stream: true, max_tokens: 1_000_000 }),
        { signal: client.signal },
      );
      assert.equal(response.status, 200);
      // Read three tokens by hand: leaving a for-await loop would cancel the
      // body, i.e. disconnect before the slot is inspected.
      const events = sseData(response.body!);
      let contentChunks = 0;
      while (contentChunks < 3) {
        const { value } = await events.next();
        if ((JSON.parse(value as string) as ChatChunk).choices[0]?.delta.content) contentChunks++;
      }
      const [busy] = await slots();
      assert.equal(busy.is_processing, true, "the only slot is generating");
      client.abort();
      await assert.rejects(async () => {
        while (!(await events.next()).done); // the rest of the stream fails with the abort
      });

      await eventually(async () => !(await slots())[0].is_processing, 5_000, "the llama-server slot to become idle");
      const started = Date.now();
      const next = await postJson(`${router.url}/v1/chat/completions`, chat("tiny-a", { max_tokens: 4 }));
      assert.equal(next.status, 200);
      assert.equal((await next.json()).usage.completion_tokens, 4);
      assert.ok(Date.now() - started < 2_000, `the next request waited ${Date.now() - started} ms`);
      await eventually(async () => (await status()).find((m) => m.model === "tiny-a")!.inFlight === 0, 5_000, "no request in flight");
    });
  });
}
