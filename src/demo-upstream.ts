/**
 * A built-in stand-in for llama.cpp's `llama-server`: the same endpoints and
 * response shapes (OpenAI, Anthropic and llama.cpp native), deterministic
 * output, and fault-injection flags so the router's supervision can be tested
 * and demonstrated without a model. Run as `modelswap demo-upstream --port N`.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import type { HttpServer, Runtime } from "./runtime/runtime.ts";

/** Parsed command-line flags of the demo upstream. */
interface DemoOptions {
  port: number;
  model: string;
  startupMs: number;
  tokenMs: number;
  reply: string;
  exitAtStart: number | null;
  crashAfterMs: number | null;
  hangHealth: boolean;
  hangHealthAfterMs: number | null;
  stallMs: number;
  ignoreSigterm: boolean;
  spawnGrandchild: boolean;
  portInUse: boolean;
  logLines: number;
  recordDisconnect: string | null;
}

const USAGE = `usage: modelswap demo-upstream --port N [options]
  --port N                 port to listen on, on 127.0.0.1 (required)
  --model ID               model id reported by /v1/models and responses (default "demo")
  --startup-ms MS          /health answers 503 "loading" for MS ms (default 0)
  --token-ms MS            delay between generated tokens (default 5)
  --reply TEXT             the text every completion generates
fault injection:
  --exit-at-start CODE     log a few lines to stderr, then exit with CODE before serving
  --crash-after-ms MS      exit with code 3 MS ms after a completion request begins
  --hang-health            never answer /health
  --hang-health-after-ms MS  answer /health normally, then never again once MS ms have passed
  --stall-ms MS            a stream sends its first tokens, then nothing for MS ms
  --ignore-sigterm         survive SIGTERM (only SIGKILL stops it)
  --spawn-grandchild       start \`sleep 600\` in this process group and print its pid
  --port-in-use            fail like llama-server does when its port is taken (exit 1)
  --log-lines N            print N lines to stderr at start
  --record-disconnect FILE append a line to FILE when a client disconnects mid-response`;

const DEFAULT_REPLY = "Hello from the modelswap demo upstream, a stand-in for llama-server.";

/** Flags taking a value, with the key they set and whether the value is a number. */
const VALUE_FLAGS: Record<string, [keyof DemoOptions, "int" | "text"]> = {
  "--port": ["port", "int"],
  "--model": ["model", "text"],
  "--startup-ms": ["startupMs", "int"],
  "--token-ms": ["tokenMs", "int"],
  "--reply": ["reply", "text"],
  "--exit-at-start": ["exitAtStart", "int"],
  "--crash-after-ms": ["crashAfterMs", "int"],
  "--stall-ms": ["stallMs", "int"],
  "--hang-health-after-ms": ["hangHealthAfterMs", "int"],
  "--log-lines": ["logLines", "int"],
  "--record-disconnect": ["recordDisconnect", "text"],
};
const BOOLEAN_FLAGS: Record<string, keyof DemoOptions> = {
  "--hang-health": "hangHealth",
  "--ignore-sigterm": "ignoreSigterm",
  "--spawn-grandchild": "spawnGrandchild",
  "--port-in-use": "portInUse",
};

/** Parse flags strictly; returns an error message instead of options on bad input. */
function parseFlags(args: string[]): DemoOptions | string {
  const options: DemoOptions = {
    port: -1,
    model: "demo",
    startupMs: 0,
    tokenMs: 5,
    reply: DEFAULT_REPLY,
    exitAtStart: null,
    crashAfterMs: null,
    hangHealth: false,
    hangHealthAfterMs: null,
    stallMs: 0,
    ignoreSigterm: false,
    spawnGrandchild: false,
    portInUse: false,
    logLines: 0,
    recordDisconnect: null,
  };
  const set = options as unknown as Record<string, unknown>;
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].startsWith("--") && args[i].includes("=")
      ? [args[i].slice(0, args[i].indexOf("=")), args[i].slice(args[i].indexOf("=") + 1)]
      : [args[i], undefined];
    if (flag in BOOLEAN_FLAGS && inline === undefined) {
      set[BOOLEAN_FLAGS[flag]] = true;
      continue;
    }
    const spec = VALUE_FLAGS[flag];
    if (!spec) return `unknown flag ${JSON.stringify(args[i])}`;
    const value = inline ?? args[++i];
    if (value === undefined) return `flag ${flag} needs a value`;
    if (spec[1] === "int") {
      if (!/^\d+$/.test(value)) return `flag ${flag} needs a non-negative integer, got ${JSON.stringify(value)}`;
      set[spec[0]] = Number(value);
    } else set[spec[0]] = value;
  }
  if (options.port < 0) return "flag --port is required";
  if (options.port > 65535) return `flag --port must be at most 65535, got ${options.port}`;
  return options;
}

/** Resolve after `ms`, or at once when `signal` aborts. */
function delay(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 || signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** Word tokens: "Hello there" → ["Hello", " there"]. */
function tokenize(text: string): string[] {
  return text.match(/\s*\S+/g) ?? [];
}

/** Keys of message objects that label rather than hold prompt text. */
const LABEL_KEYS = new Set(["role", "type", "name", "model", "id"]);

/** Number of word tokens in a JSON-ish prompt (its text, not its labels), at least 1. */
function countPromptTokens(value: unknown): number {
  let count = 0;
  const visit = (v: unknown): void => {
    if (typeof v === "string") count += tokenize(v).length;
    else if (Array.isArray(v)) v.forEach(visit);
    else if (v && typeof v === "object") {
      for (const [key, inner] of Object.entries(v)) if (!LABEL_KEYS.has(key)) visit(inner);
    }
  };
  visit(value);
  return Math.max(count, 1);
}

/** A deterministic, L2-normalised 8-dimensional vector for a text. */
function embed(text: string): number[] {
  const vector = Array.from({ length: 8 }, (_, dim) => {
    let hash = Math.imul(2166136261 ^ dim, 16777619);
    for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 16777619);
    // murmur3's finaliser spreads small input differences over every bit
    hash = Math.imul(hash ^ (hash >>> 16), 0x85ebca6b);
    hash = Math.imul(hash ^ (hash >>> 13), 0xc2b2ae35);
    hash ^= hash >>> 16;
    return ((hash >>> 0) / 0xffffffff) * 2 - 1;
  });
  const norm = Math.hypot(...vector) || 1;
  return vector.map((x) => x / norm);
}

type Json = Record<string, unknown>;

/** What an abandoned request "answers" (nobody reads it; nginx's code for it). */
function clientGone(): Response {
  return new Response(null, { status: 499 });
}

/** The OpenAI/llama-server error body. */
function errorResponse(status: number, message: string, type = "invalid_request_error"): Response {
  return Response.json({ error: { code: status, message, type } }, { status });
}

/** The request body as a JSON object, or an error response for bad JSON. */
async function readJson(request: Request): Promise<Json | Response> {
  const text = await request.text();
  if (text.trim() === "") return {};
  try {
    const value = JSON.parse(text);
    if (value && typeof value === "object" && !Array.isArray(value)) return value as Json;
    return errorResponse(400, "request body must be a JSON object");
  } catch (error) {
    return errorResponse(400, `invalid JSON in request body: ${(error as Error).message}`);
  }
}

/** Run the demo upstream until SIGTERM/SIGINT; returns the process exit code. */
export async function runDemoUpstream(args: string[], runtime: Runtime): Promise<number> {
  const parsed = parseFlags(args);
  if (typeof parsed === "string") {
    console.error(`demo-upstream: ${parsed}\n${USAGE}`);
    return 2;
  }
  const options = parsed;
  for (let i = 1; i <= options.logLines; i++) console.error(`demo-upstream log line ${i} of ${options.logLines}`);
  if (options.exitAtStart !== null) {
    console.error("demo-upstream: loading model demo.gguf");
    console.error("demo-upstream: error: failed to load model (--exit-at-start)");
    console.error(`demo-upstream: exiting with code ${options.exitAtStart}`);
    return options.exitAtStart;
  }
  if (options.portInUse) {
    console.error(`demo-upstream: couldn't bind HTTP server socket, hostname: 127.0.0.1, port: ${options.port}`);
    return 1;
  }
  if (options.spawnGrandchild) {
    const grandchild = runtime.spawn({ argv: ["sleep", "600"], output: "null" });
    grandchild.unref();
    console.log(`grandchild pid ${grandchild.pid}`);
  }

  let server: HttpServer | null = null;
  let stopped!: (code: number) => void;
  const exitCode = new Promise<number>((resolve) => (stopped = resolve));
  const stop = (signal: string) => {
    if (signal === "SIGTERM" && options.ignoreSigterm) {
      console.error("demo-upstream: ignoring SIGTERM (--ignore-sigterm)");
      return;
    }
    console.error(`demo-upstream: ${signal} received, exiting`);
    (server?.stop(true) ?? Promise.resolve()).finally(() => stopped(0));
  };
  // Before announcing readiness, so a signal sent right after it is handled.
  runtime.onSignal("SIGTERM", () => stop("SIGTERM"));
  runtime.onSignal("SIGINT", () => stop("SIGINT"));

  server = await runtime.serve({ hostname: "127.0.0.1", port: options.port, fetch: demoApp(options, runtime).fetch });
  console.log(`demo-upstream pid=${runtime.pid} port=${server.port} model=${options.model}`);
  return await exitCode;
}

/** Per-request facts shared by the generation endpoints. */
interface Generation {
  model: string;
  tokens: string[];
  finishReason: "stop" | "length";
  promptTokens: number;
}

/** The Hono app with every endpoint. */
/** OpenAI `usage` for a prompt of `prompt` tokens and `completion` generated ones. */
function usageOf(prompt: number, completion: number) {
  return { completion_tokens: completion, prompt_tokens: prompt, total_tokens: prompt + completion };
}

function demoApp(options: DemoOptions, runtime: Runtime): Hono {
  const startedAt = Date.now();
  const app = new Hono();
  let nextId = 1;
  const id = (prefix: string) => `${prefix}-demo${nextId++}`;
  const now = () => Math.floor(Date.now() / 1000);
  const loading = () => Date.now() - startedAt < options.startupMs;

  const recordDisconnect = (request: Request) => {
    if (options.recordDisconnect === null) return;
    const path = new URL(request.url).pathname;
    runtime
      .appendTextFile(options.recordDisconnect, `${new Date().toISOString()} ${request.method} ${path} disconnected\n`)
      .catch((error) => console.error(`demo-upstream: cannot record disconnect: ${error}`));
  };

  const armCrash = () => {
    if (options.crashAfterMs === null) return;
    setTimeout(() => {
      console.error("demo-upstream: crashing mid-response (--crash-after-ms)");
      runtime.exit(3);
    }, options.crashAfterMs);
  };

  /** What a completion request will generate. */
  const generation = (body: Json, maxKeys: string[], prompt: unknown): Generation => {
    const all = tokenize(options.reply);
    const limitKey = maxKeys.find((key) => typeof body[key] === "number" && (body[key] as number) >= 0);
    const limit = limitKey === undefined ? Infinity : (body[limitKey] as number);
    return {
      model: typeof body.model === "string" ? body.model : options.model,
      tokens: all.slice(0, limit),
      finishReason: limit < all.length ? "length" : "stop",
      promptTokens: countPromptTokens(prompt),
    };
  };

  const timings = (gen: Generation, started: number, emitted: number) => {
    const predictedMs = Math.max(Date.now() - started, 0.001);
    return {
      prompt_n: gen.promptTokens,
      prompt_ms: 0.5,
      prompt_per_second: gen.promptTokens / 0.0005,
      predicted_n: emitted,
      predicted_ms: predictedMs,
      predicted_per_second: (emitted / predictedMs) * 1000,
    };
  };

  /**
   * Stream strings produced by `produce` as the response body; stops
   * producing and records the disconnect when the client goes away.
   */
  const stream = (
    request: Request,
    contentType: string,
    produce: (send: (text: string) => void, signal: AbortSignal) => Promise<void>,
  ): Response => {
    const abort = new AbortController();
    let finished = false;
    const onGone = () => {
      if (finished) return;
      finished = true;
      abort.abort();
      recordDisconnect(request);
    };
    request.signal.addEventListener("abort", onGone, { once: true });
    const encoder = new TextEncoder();
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        const send = (text: string) => {
          if (!abort.signal.aborted) controller.enqueue(encoder.encode(text));
        };
        produce(send, abort.signal)
          .then(() => {
            if (finished) return;
            finished = true;
            request.signal.removeEventListener("abort", onGone);
            controller.close();
          })
          .catch((error) => controller.error(error));
      },
      cancel: onGone,
    });
    return new Response(body, { headers: { "content-type": contentType, "cache-control": "no-cache" } });
  };

  /** Emit each token after `--token-ms`, stalling after the second one when `--stall-ms` is set. */
  const emitTokens = async (gen: Generation, signal: AbortSignal, onToken: (token: string) => void) => {
    let emitted = 0;
    for (const token of gen.tokens) {
      await delay(options.tokenMs, signal);
      if (emitted === 2 && options.stallMs > 0) await delay(options.stallMs, signal);
      if (signal.aborted) break;
      onToken(token);
      emitted++;
    }
    return emitted;
  };

  /** Wait as long as generating would take (abortable); true when the client is still there. */
  const generateQuietly = async (request: Request, gen: Generation) => {
    await emitTokens(gen, request.signal, () => {});
    if (request.signal.aborted) recordDisconnect(request);
    return !request.signal.aborted;
  };

  const sse = (data: unknown, event?: string) =>
    `${event ? `event: ${event}\n` : ""}data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`;

  /** Parse the body, answer 503 while loading, and arm `--crash-after-ms`. */
  const completionBody = async (c: Context): Promise<Json | Response> => {
    if (loading()) return errorResponse(503, "Loading model", "unavailable_error");
    const body = await readJson(c.req.raw);
    if (!(body instanceof Response)) armCrash();
    return body;
  };

  app.get("/", (c) => c.text("demo-upstream"));
  // Tests check the environment a model was started with (`models.<id>.env`).
  app.get("/env", (c) => {
    const name = c.req.query("name") ?? "";
    return c.json({ name, value: runtime.env(name) ?? null });
  });

  app.get("/health", async (c) => {
    const hangNow = options.hangHealthAfterMs !== null && Date.now() - startedAt >= options.hangHealthAfterMs;
    if (options.hangHealth || hangNow) {
      await new Promise((resolve) => c.req.raw.signal.addEventListener("abort", resolve, { once: true }));
      return clientGone();
    }
    if (loading()) return c.json({ status: "loading" }, 503);
    return c.json({ status: "ok" });
  });

  app.get("/v1/models", (c) =>
    c.json({
      object: "list",
      model: options.model,
      data: [{ id: options.model, object: "model", created: now(), owned_by: "demo-upstream", meta: {} }],
    }));

  app.post("/v1/chat/completions", async (c) => {
    const body = await completionBody(c);
    if (body instanceof Response) return body;
    const gen = generation(body, ["max_completion_tokens", "max_tokens", "n_predict"], body.messages);
    const started = Date.now();
    const base = { id: id("chatcmpl"), created: now(), model: gen.model, system_fingerprint: "b0-demo" };
    const usage = (n: number) => usageOf(gen.promptTokens, n);
    if (body.stream === true) {
      const includeUsage = (body.stream_options as Json | undefined)?.include_usage === true;
      return stream(c.req.raw, "text/event-stream", async (send, signal) => {
        const chunk = (choices: unknown[], extra: Json = {}) =>
          sse({ choices, ...base, object: "chat.completion.chunk", ...extra });
        send(chunk([{ finish_reason: null, index: 0, delta: { role: "assistant", content: null } }]));
        const n = await emitTokens(
          gen,
          signal,
          (token) => send(chunk([{ finish_reason: null, index: 0, delta: { content: token } }])),
        );
        if (signal.aborted) return;
        send(chunk([{ finish_reason: gen.finishReason, index: 0, delta: {} }], { timings: timings(gen, started, n) }));
        if (includeUsage) send(chunk([], { usage: usage(n) }));
        send(sse("[DONE]"));
      });
    }
    if (!(await generateQuietly(c.req.raw, gen))) return clientGone();
    return c.json({
      choices: [{
        finish_reason: gen.finishReason,
        index: 0,
        message: { role: "assistant", content: gen.tokens.join("") },
      }],
      ...base,
      object: "chat.completion",
      usage: usage(gen.tokens.length),
      timings: timings(gen, started, gen.tokens.length),
    });
  });

  app.post("/v1/completions", async (c) => {
    const body = await completionBody(c);
    if (body instanceof Response) return body;
    const gen = generation(body, ["max_tokens", "n_predict"], body.prompt);
    const started = Date.now();
    const base = { id: id("cmpl"), created: now(), model: gen.model, system_fingerprint: "b0-demo" };
    const usage = (n: number) => usageOf(gen.promptTokens, n);
    if (body.stream === true) {
      const includeUsage = (body.stream_options as Json | undefined)?.include_usage === true;
      return stream(c.req.raw, "text/event-stream", async (send, signal) => {
        const chunk = (choices: unknown[], extra: Json = {}) =>
          sse({ choices, ...base, object: "text_completion", ...extra });
        const n = await emitTokens(
          gen,
          signal,
          (token) => send(chunk([{ text: token, index: 0, logprobs: null, finish_reason: null }])),
        );
        if (signal.aborted) return;
        send(chunk([{ text: "", index: 0, logprobs: null, finish_reason: gen.finishReason }], {
          timings: timings(gen, started, n),
        }));
        if (includeUsage) send(chunk([], { usage: usage(n) }));
        send(sse("[DONE]"));
      });
    }
    if (!(await generateQuietly(c.req.raw, gen))) return clientGone();
    return c.json({
      choices: [{ text: gen.tokens.join(""), index: 0, logprobs: null, finish_reason: gen.finishReason }],
      ...base,
      object: "text_completion",
      usage: usage(gen.tokens.length),
      timings: timings(gen, started, gen.tokens.length),
    });
  });

  const native = async (c: Context) => {
    const body = await completionBody(c);
    if (body instanceof Response) return body;
    const gen = generation(body, ["n_predict", "max_tokens"], [body.prompt, body.input_prefix, body.input_suffix]);
    const started = Date.now();
    const final = (n: number, content: string) => ({
      content,
      model: gen.model,
      stop: true,
      stop_type: gen.finishReason === "length" ? "limit" : "eos",
      tokens_predicted: n,
      tokens_evaluated: gen.promptTokens,
      timings: timings(gen, started, n),
    });
    if (body.stream === true) {
      return stream(c.req.raw, "text/event-stream", async (send, signal) => {
        const n = await emitTokens(
          gen,
          signal,
          (token) => send(sse({ content: token, stop: false, model: gen.model })),
        );
        if (!signal.aborted) send(sse(final(n, "")));
      });
    }
    if (!(await generateQuietly(c.req.raw, gen))) return clientGone();
    return c.json(final(gen.tokens.length, gen.tokens.join("")));
  };
  app.post("/completion", native);
  app.post("/completions", native);
  app.post("/infill", native);

  app.post("/v1/messages", async (c) => {
    const body = await completionBody(c);
    if (body instanceof Response) return body;
    const gen = generation(body, ["max_tokens"], [body.system, body.messages]);
    const stopReason = gen.finishReason === "length" ? "max_tokens" : "end_turn";
    const message = {
      id: id("msg"),
      type: "message",
      role: "assistant",
      model: gen.model,
      stop_sequence: null,
    };
    if (body.stream === true) {
      return stream(c.req.raw, "text/event-stream", async (send, signal) => {
        const event = (type: string, data: Json) => send(sse({ type, ...data }, type));
        event("message_start", {
          message: {
            ...message,
            content: [],
            stop_reason: null,
            usage: { input_tokens: gen.promptTokens, output_tokens: 0 },
          },
        });
        event("content_block_start", { index: 0, content_block: { type: "text", text: "" } });
        const n = await emitTokens(
          gen,
          signal,
          (token) => event("content_block_delta", { index: 0, delta: { type: "text_delta", text: token } }),
        );
        if (signal.aborted) return;
        event("content_block_stop", { index: 0 });
        event("message_delta", {
          delta: { stop_reason: stopReason, stop_sequence: null },
          usage: { output_tokens: n },
        });
        event("message_stop", {});
      });
    }
    if (!(await generateQuietly(c.req.raw, gen))) return clientGone();
    return c.json({
      ...message,
      content: [{ type: "text", text: gen.tokens.join("") }],
      stop_reason: stopReason,
      usage: { input_tokens: gen.promptTokens, output_tokens: gen.tokens.length },
    });
  });

  app.post("/v1/messages/count_tokens", async (c) => {
    const body = await readJson(c.req.raw);
    if (body instanceof Response) return body;
    return c.json({
      input_tokens: countPromptTokens([body.system, body.messages]),
      model: body.model ?? options.model,
    });
  });

  app.post("/v1/responses", async (c) => {
    const body = await completionBody(c);
    if (body instanceof Response) return body;
    const gen = generation(body, ["max_output_tokens"], [body.instructions, body.input]);
    const response = (status: string, text: string, n: number) => ({
      id: id("resp"),
      object: "response",
      created_at: now(),
      model: gen.model,
      status,
      output: text === "" ? [] : [{
        type: "message",
        id: id("msg"),
        status,
        role: "assistant",
        content: [{ type: "output_text", text, annotations: [] }],
      }],
      usage: { input_tokens: gen.promptTokens, output_tokens: n, total_tokens: gen.promptTokens + n },
    });
    if (body.stream === true) {
      return stream(c.req.raw, "text/event-stream", async (send, signal) => {
        send(sse({ type: "response.created", response: response("in_progress", "", 0) }, "response.created"));
        let text = "";
        const n = await emitTokens(gen, signal, (token) => {
          text += token;
          send(
            sse(
              { type: "response.output_text.delta", output_index: 0, content_index: 0, delta: token },
              "response.output_text.delta",
            ),
          );
        });
        if (signal.aborted) return;
        send(sse({ type: "response.completed", response: response("completed", text, n) }, "response.completed"));
      });
    }
    if (!(await generateQuietly(c.req.raw, gen))) return clientGone();
    return c.json(response("completed", gen.tokens.join(""), gen.tokens.length));
  });

  app.post("/v1/embeddings", async (c) => {
    if (loading()) return errorResponse(503, "Loading model", "unavailable_error");
    const body = await readJson(c.req.raw);
    if (body instanceof Response) return body;
    const input = body.input ?? body.content;
    const inputs = Array.isArray(input) && !input.every((x) => typeof x === "number") ? input : [input];
    if (input === undefined || inputs.length === 0) return errorResponse(400, '"input" is required');
    const texts = inputs.map((x) => (typeof x === "string" ? x : JSON.stringify(x)));
    const tokens = countPromptTokens(texts);
    // llama-server honours encoding_format "base64" (little-endian float32), the OpenAI SDK's default.
    const encode = (vector: number[]) =>
      body.encoding_format === "base64"
        ? btoa(String.fromCharCode(...new Uint8Array(new Float32Array(vector).buffer)))
        : vector;
    return c.json({
      model: body.model ?? options.model,
      object: "list",
      usage: { prompt_tokens: tokens, total_tokens: tokens },
      data: texts.map((text, index) => ({ embedding: encode(embed(text)), index, object: "embedding" })),
    });
  });

  const rerank = async (c: Context) => {
    const body = await readJson(c.req.raw);
    if (body instanceof Response) return body;
    const query = new Set(tokenize(String(body.query ?? "").toLowerCase()).map((w) => w.trim()));
    const documents = Array.isArray(body.documents) ? body.documents.map(String) : [];
    const results = documents
      .map((document, index) => {
        const words = tokenize(document.toLowerCase()).map((w) => w.trim());
        const hits = words.filter((w) => query.has(w)).length;
        return { index, relevance_score: words.length ? hits / words.length : 0 };
      })
      .sort((a, b) => b.relevance_score - a.relevance_score || a.index - b.index)
      .slice(0, typeof body.top_n === "number" ? body.top_n : undefined);
    const tokens = countPromptTokens([body.query, documents]);
    return c.json({
      model: body.model ?? options.model,
      object: "list",
      usage: { prompt_tokens: tokens, total_tokens: tokens },
      results,
    });
  };
  app.post("/v1/rerank", rerank);
  app.post("/rerank", rerank);
  app.post("/v1/reranking", rerank);

  app.post("/v1/audio/transcriptions", async (c) => {
    let form: FormData;
    try {
      form = await c.req.raw.formData();
    } catch (error) {
      return errorResponse(400, `expected a multipart/form-data body with a "file" field: ${(error as Error).message}`);
    }
    const file = form.get("file");
    if (!(file instanceof Blob)) return errorResponse(400, 'multipart field "file" is required');
    const model = form.get("model");
    return c.json({ text: options.reply, model: typeof model === "string" ? model : options.model, bytes: file.size });
  });

  app.post("/v1/audio/speech", async (c) => {
    const body = await readJson(c.req.raw);
    if (body instanceof Response) return body;
    const model = typeof body.model === "string" ? body.model : options.model;
    const audio = new TextEncoder().encode(`demo audio for: ${String(body.input ?? "")}`);
    return new Response(audio, { headers: { "content-type": "audio/mpeg", "x-demo-model": model } });
  });

  app.post("/v1/images/generations", async (c) => {
    const body = await readJson(c.req.raw);
    if (body instanceof Response) return body;
    const count = typeof body.n === "number" ? body.n : 1;
    return c.json({
      created: now(),
      model: body.model ?? options.model,
      data: Array.from({ length: count }, () => ({ b64_json: btoa(`demo image: ${String(body.prompt ?? "")}`) })),
    });
  });

  app.get("/props", (c) =>
    c.json({
      model: options.model,
      model_path: `/models/${options.model}.gguf`,
      total_slots: 4,
      chat_template: "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}",
      build_info: "b0-demo",
      default_generation_settings: { n_ctx: 2048, params: { n_predict: -1 } },
    }));

  app.get(
    "/slots",
    (c) =>
      c.json(
        Array.from({ length: 4 }, (_, slot) => ({ id: slot, n_ctx: 2048, is_processing: false, model: options.model })),
      ),
  );

  app.post("/tokenize", async (c) => {
    const body = await readJson(c.req.raw);
    if (body instanceof Response) return body;
    return c.json({
      tokens: [...new TextEncoder().encode(String(body.content ?? ""))],
      model: body.model ?? options.model,
    });
  });

  app.post("/detokenize", async (c) => {
    const body = await readJson(c.req.raw);
    if (body instanceof Response) return body;
    const tokens = Array.isArray(body.tokens) ? body.tokens.map(Number) : [];
    return c.json({ content: new TextDecoder().decode(new Uint8Array(tokens)), model: body.model ?? options.model });
  });

  app.post("/apply-template", async (c) => {
    const body = await readJson(c.req.raw);
    if (body instanceof Response) return body;
    const messages = Array.isArray(body.messages) ? (body.messages as Json[]) : [];
    const prompt = messages.map((m) => `<|im_start|>${m.role}\n${m.content}<|im_end|>\n`).join("") +
      "<|im_start|>assistant\n";
    return c.json({ prompt, model: body.model ?? options.model });
  });

  const echo = async (c: Context) => {
    const url = new URL(c.req.url);
    const body = await c.req.raw.text();
    let model: unknown = url.searchParams.get("model") ?? options.model;
    try {
      const parsed = JSON.parse(body);
      if (typeof parsed?.model === "string") model = parsed.model;
    } catch {
      // Not JSON: the body is echoed as text, the model comes from the query or --model.
    }
    return c.json({
      method: c.req.method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: Object.fromEntries(c.req.raw.headers),
      body,
      model,
    });
  };
  // `/echo/<anything>` too, so a client pointed at base URL `.../echo` sees exactly what it sent.
  app.all("/echo", echo);
  app.all("/echo/*", echo);

  app.notFound((c) =>
    errorResponse(404, `demo-upstream has no endpoint ${c.req.method} ${c.req.path}`, "not_found_error")
  );
  app.onError((error) => errorResponse(500, `demo-upstream failed: ${error.message}`, "server_error"));
  return app;
}
