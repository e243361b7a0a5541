/**
 * The `ollama` client library from npm, unchanged, pointed at a router:
 * chat, streamed chat, generate, embeddings, the model lists, `keep_alive`
 * and errors must all come back in the shapes it parses.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { connect } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Ollama } from "ollama";
import { demoCmd, eventually, type RouterProcess, runtime, startRouter } from "../e2e/harness.ts";

const KEY = "ollama-key";
const REPLY = "Hello from the Ollama test";
/** The demo's word tokens of {@link REPLY}. */
const REPLY_TOKENS = 5;

describe(`the ollama client against modelswap (${runtime.name})`, () => {
  let router: RouterProcess;
  let ollama: Ollama;
  const disconnects = join(mkdtempSync(join(tmpdir(), "modelswap-ollama-")), "disconnects.log");

  before(async () => {
    router = await startRouter(`
apiKeys: [${KEY}]
models:
  chat:
    cmd: ${demoCmd(`--token-ms 1 --reply "${REPLY}"`)}
    aliases: [assistant]
    capabilities: { in: [text, image], tools: true, context: 8192 }
  brief:
    cmd: ${demoCmd(`--token-ms 1 --reply "${REPLY}"`)}
  crashy:
    cmd: ${demoCmd("--token-ms 30 --crash-after-ms 150")}
  staller:
    cmd: ${demoCmd("--token-ms 1 --stall-ms 30000")}
  leaver:
    cmd: ${demoCmd(`--token-ms 100 --record-disconnect ${disconnects}`)}
  cold:
    cmd: ${demoCmd(`--startup-ms 300 --token-ms 1 --reply "${REPLY}"`)}
    sendLoadingState: true
routing:
  router:
    settings:
      groups:
        all: { swap: false, members: [chat, brief, crashy, staller, leaver, cold] }
`);
    ollama = new Ollama({ host: router.url, headers: { Authorization: `Bearer ${KEY}` } });
  });

  after(async () => {
    const exit = await router.stop();
    assert.equal(exit.code, 0, router.output());
  });

  const messages = [{ role: "user", content: "Say hello" }];

  test("chat: the message, done_reason, token counts and durations in ns", async () => {
    const response = await ollama.chat({ model: "chat", messages });
    assert.equal(response.model, "chat");
    assert.deepEqual(response.message, { role: "assistant", content: REPLY });
    assert.equal(response.done, true);
    assert.equal(response.done_reason, "stop");
    assert.equal(response.eval_count, REPLY_TOKENS);
    assert.ok(response.prompt_eval_count >= 1);
    for (const field of ["total_duration", "load_duration", "prompt_eval_duration", "eval_duration"] as const) {
      assert.ok(Number.isInteger(response[field]) && response[field] >= 0, `${field} is whole nanoseconds: ${response[field]}`);
    }
    assert.ok(response.eval_duration > 0 && response.total_duration > 0);
    assert.ok(!Number.isNaN(Date.parse(String(response.created_at))));
  });

  test("chat stream: NDJSON parts that add up to the reply, then one done line with the counts", async () => {
    const stream = await ollama.chat({ model: "assistant", messages, stream: true });
    const parts = [];
    for await (const part of stream) parts.push(part);
    const last = parts.at(-1)!;
    assert.equal(parts.map((part) => part.message.content).join(""), REPLY);
    assert.ok(parts.length > 2, "the reply came in pieces");
    assert.ok(parts.slice(0, -1).every((part) => part.done === false && part.model === "assistant"));
    assert.equal(last.done, true);
    assert.equal(last.done_reason, "stop");
    assert.equal(last.eval_count, REPLY_TOKENS);
    assert.ok(last.eval_duration > 0);
  });

  test("chat stream from a cold model with sendLoadingState: the loading progress as thinking, then the reply", async () => {
    const stream = await ollama.chat({ model: "cold", messages, stream: true });
    let thinking = "";
    let content = "";
    let last;
    for await (const part of stream) {
      thinking += part.message.thinking ?? "";
      content += part.message.content;
      last = part;
    }
    assert.match(thinking, /loading model cold/);
    assert.equal(content, REPLY);
    assert.equal(last?.done, true);
    assert.equal(last?.eval_count, REPLY_TOKENS);
    assert.ok((last?.load_duration ?? 0) >= 300e6, `load_duration counts the 300 ms start: ${last?.load_duration}`);
  });

  test("chat stream: parts arrive as the model writes them", async () => {
    // The staller writes two tokens, then nothing for 30 s: a translation that buffered would show nothing.
    const stream = await ollama.chat({ model: "staller", messages, stream: true });
    const iterator = stream[Symbol.asyncIterator]();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const first = await Promise.race([
      iterator.next(),
      new Promise<never>((_, reject) => timer = setTimeout(() => reject(new Error("no part within 15 s: the stream is buffered")), 15_000)),
    ]).finally(() => clearTimeout(timer));
    assert.equal(first.done, false);
    assert.equal(first.value.done, false);
    assert.ok(first.value.message.content.length > 0);
    // Done with it: what a leaving client does to the model's answer is the next test's (a raw socket
    // really closes; how soon an aborted fetch lets go of its body differs between runtimes).
    stream.abort();
    await iterator.return?.(undefined);
  });

  test("a client that leaves mid-stream ends the model's answer", async () => {
    // A raw socket, so the client really closes its connection (an aborted fetch may keep it open).
    const body = JSON.stringify({ model: "leaver", messages });
    const url = new URL(router.url);
    const socket = connect(Number(url.port), url.hostname);
    let text = "";
    socket.setEncoding("utf8");
    socket.on("error", () => {});
    await new Promise<void>((resolve, reject) => {
      socket.on("data", (chunk: string) => {
        text += chunk;
        if (text.includes('"done":false')) resolve();
      });
      socket.on("close", () => reject(new Error(`closed before the first part:\n${text}`)));
      socket.write(
        `POST /api/chat HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${KEY}\r\nContent-Type: application/json\r\n` +
          `Content-Length: ${new TextEncoder().encode(body).byteLength}\r\n\r\n${body}`,
      );
    });
    assert.match(text, /content-type: application\/x-ndjson/i);
    socket.destroy();
    await eventually(() => {
      try {
        return /POST \/v1\/chat\/completions disconnected/.test(readFileSync(disconnects, "utf8"));
      } catch {
        return false;
      }
    }, 10_000, "the upstream to see the client leave");
  });

  test("generate: a prompt with system and options, whole and streamed", async () => {
    const whole = await ollama.generate({ model: "chat", prompt: "Say hello", system: "Be brief", options: { num_predict: 2, temperature: 0.1 } });
    assert.equal(whole.response, "Hello from");
    assert.equal(whole.done, true);
    assert.equal(whole.done_reason, "length");
    assert.equal(whole.eval_count, 2);
    const stream = await ollama.generate({ model: "chat", prompt: "Say hello", stream: true });
    let text = "";
    let done;
    for await (const part of stream) {
      text += part.response;
      if (part.done) done = part;
    }
    assert.equal(text, REPLY);
    assert.equal(done?.eval_count, REPLY_TOKENS);
    const raw = await ollama.generate({ model: "chat", prompt: "<s>Say hello", raw: true });
    assert.equal(raw.response, REPLY);
  });

  test("embed and the legacy embeddings: one vector per input, in order", async () => {
    const result = await ollama.embed({ model: "chat", input: ["first", "second"] });
    assert.equal(result.model, "chat");
    assert.equal(result.embeddings.length, 2);
    assert.equal(result.embeddings[0].length, 8);
    assert.ok(Math.abs(Math.hypot(...result.embeddings[0]) - 1) < 1e-6);
    assert.notDeepEqual(result.embeddings[0], result.embeddings[1]);
    assert.equal(result.prompt_eval_count, 2);
    const legacy = await ollama.embeddings({ model: "chat", prompt: "first" });
    assert.deepEqual(legacy.embedding, result.embeddings[0]);
  });

  test("tags, ps, show and version", async () => {
    const { models } = await ollama.list();
    assert.deepEqual(models.map((model) => model.name), ["brief", "chat", "cold", "crashy", "leaver", "staller"]);
    assert.match(models[0].digest, /^[0-9a-f]{64}$/);
    await ollama.chat({ model: "chat", messages });
    const running = await ollama.ps();
    const chat = running.models.find((model) => model.name === "chat");
    assert.ok(chat, `chat is loaded: ${JSON.stringify(running)}`);
    assert.equal((chat as unknown as { context_length: number }).context_length, 8192);
    assert.ok(!Number.isNaN(Date.parse(String(chat.expires_at))));
    const shown = await ollama.show({ model: "chat:latest" });
    assert.deepEqual(shown.capabilities, ["completion", "vision", "tools"]);
    assert.equal((shown.model_info as unknown as Record<string, unknown>)["modelswap.context_length"], 8192);
    const { version } = await ollama.version();
    assert.match(version, /^\d+\.\d+\.\d+/);
  });

  test("keep_alive: 0 answers, then unloads the model; a load request with keep_alive loads it", async () => {
    const loaded = await ollama.generate({ model: "brief", prompt: "" });
    assert.equal(loaded.done_reason, "load");
    assert.ok((await ollama.ps()).models.some((model) => model.name === "brief"));
    const response = await ollama.chat({ model: "brief", messages, keep_alive: 0 });
    assert.equal(response.message.content, REPLY, "the request itself is served in full");
    await router.waitForOutput(/brief: unloaded/);
    await eventually(async () => !(await ollama.ps()).models.some((model) => model.name === "brief"), 10_000, "brief to leave /api/ps");
    const again = await ollama.generate({ model: "brief", prompt: "", keep_alive: "1s" });
    assert.equal(again.done_reason, "load");
    // The configured ttl keeps brief for ever; the client's keep_alive of a second unloads it.
    await router.waitForOutput(/brief: unloaded[^\n]*\n[\s\S]*brief: unloaded/);
  });

  test("errors come in Ollama's shape: status and a message string", async () => {
    await assert.rejects(ollama.chat({ model: "nope", messages }), (error: Error & { status_code?: number }) => {
      assert.equal(error.status_code, 404);
      assert.match(error.message, /"nope"/);
      return true;
    });
    await assert.rejects(ollama.chat({ model: "chat", messages, keep_alive: "soon" }), (error: Error & { status_code?: number }) => {
      assert.equal(error.status_code, 400);
      assert.match(error.message, /keep_alive "soon"/);
      return true;
    });
    const stranger = new Ollama({ host: router.url });
    await assert.rejects(stranger.list(), (error: Error & { status_code?: number }) => {
      assert.equal(error.status_code, 401);
      assert.match(error.message, /API key/);
      return true;
    });
  });

  test("a model that dies mid-stream ends the stream with Ollama's error line", async () => {
    const stream = await ollama.chat({ model: "crashy", messages, stream: true });
    let text = "";
    await assert.rejects(
      (async () => {
        for await (const part of stream) text += part.message.content;
      })(),
      (error: Error) => /"crashy"/.test(error.message),
    );
    assert.ok(text.length > 0, "the first parts arrived before the crash");
  });

  test("activity records Ollama requests under their route with the upstream's token counts", async () => {
    const response = await fetch(`${router.url}/api/activity?model=chat`, { headers: { Authorization: `Bearer ${KEY}` } });
    const { data } = await response.json() as { data: Array<{ path: string; status: number; completionTokens: number | null }> };
    const chats = data.filter((record) => record.path === "/api/chat");
    assert.ok(chats.length >= 2, JSON.stringify(data));
    assert.ok(chats.every((record) => record.status === 200 && record.completionTokens === REPLY_TOKENS), JSON.stringify(chats));
  });
});
